import subprocess

import pytest
from django.urls import reverse

from accounts.models import AuditEntry
from projects.models import Project
from tests.conftest import login


def link(client, **data):
    form = {"name": "widgets", "repo_url": "", "default_branch": "", "test_command": "python3 -m pytest -q", "setup_command": ""}
    form.update(data)
    return client.post(reverse("project_new"), form)


def test_an_owner_links_a_local_repository_and_the_branch_is_detected(client, alice, team, demo_repo):
    response = link(login(client, alice), repo_url=str(demo_repo))
    project = Project.objects.get(name="widgets")
    assert response["Location"] == reverse("project_board", args=[project.pk])
    assert project.default_branch == "main"
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=demo_repo, capture_output=True, text=True).stdout.strip()
    assert project.head_sha == head
    assert AuditEntry.objects.filter(action="project.link", team=team).exists()


@pytest.mark.parametrize(
    "url",
    [
        "ext::sh -c touch% /tmp/pwned",
        "fd::17",
        "--upload-pack=touch /tmp/pwned",
        "-oProxyCommand=touch /tmp/pwned",
        "https://example.com/repo.git\n--upload-pack=x",
        "transport::https://example.com/repo.git",
    ],
)
def test_hostile_urls_are_refused_with_a_clear_message(client, alice, team, url):
    response = link(login(client, alice), repo_url=url)
    assert response.status_code == 200
    assert not Project.objects.filter(name="widgets").exists()
    body = response.content.decode()
    assert 'class="errorlist"' in body


def test_credentials_inside_the_url_are_refused(client, alice, team):
    response = link(login(client, alice), repo_url="https://user:secret@example.com/repo.git")
    assert not Project.objects.filter(name="widgets").exists()
    body = response.content.decode()
    assert "secret" not in body.split("<form")[0]  # not echoed in a message


def test_local_paths_are_refused_unless_the_administrator_allows_them(client, alice, team, demo_repo, settings):
    settings.SLIPWAY_ALLOW_LOCAL_REPOS = False
    response = link(login(client, alice), repo_url=str(demo_repo))
    assert not Project.objects.filter(name="widgets").exists()
    assert "local" in response.content.decode().lower()


def test_an_unreachable_repository_says_so(client, alice, team, tmp_path):
    response = link(login(client, alice), repo_url=str(tmp_path / "nothing-here"))
    assert not Project.objects.filter(name="widgets").exists()
    assert "Could not read the repository" in response.content.decode()


def test_a_missing_branch_lists_the_branches(client, alice, team, demo_repo):
    response = link(login(client, alice), repo_url=str(demo_repo), default_branch="develop")
    assert not Project.objects.filter(name="widgets").exists()
    body = response.content.decode()
    assert "no branch" in body and "main" in body


def test_a_duplicate_name_is_refused(client, alice, team, project, demo_repo):
    response = link(login(client, alice), name="DEMO", repo_url=str(demo_repo))
    assert "already has a project with that name" in response.content.decode()


def test_a_member_cannot_link_a_repository(client, bob, team, demo_repo):
    response = link(login(client, bob), repo_url=str(demo_repo))
    assert response.status_code == 403
    assert not Project.objects.filter(name="widgets").exists()


def test_a_token_is_stored_encrypted_and_never_rendered(client, alice, team, demo_repo):
    link(login(client, alice), repo_url=str(demo_repo), credentials_username="bot", credentials_token="tok-SECRET-123456")
    project = Project.objects.get(name="widgets")
    assert "tok-SECRET-123456" not in project.credentials_encrypted
    assert project.credentials_token == "tok-SECRET-123456"
    page = client.get(reverse("project_settings", args=[project.pk])).content.decode()
    assert "tok-SECRET-123456" not in page
    audit = AuditEntry.objects.get(action="project.link")
    assert "tok-SECRET" not in str(audit.after)


def test_settings_changes_are_saved_and_audited(client, alice, project):
    c = login(client, alice)
    form = client.get(reverse("project_settings", args=[project.pk])).context["form"]
    data = {name: ("" if value is None else value) for name, value in form.initial.items() if name in form.fields}
    data.update({"max_steps": 12, "require_passing_tests": "on", "require_maintainer_approval": "on"})
    data.pop("default_model", None)
    response = c.post(reverse("project_settings", args=[project.pk]), data)
    assert response.status_code == 302, response.context["form"].errors
    project.refresh_from_db()
    assert project.max_steps == 12
    entry = AuditEntry.objects.get(action="project.settings")
    assert entry.before["max_steps"] == 50 and entry.after["max_steps"] == 12


def test_the_board_shows_columns_and_filters_by_label_and_author(client, alice, bob, project):
    from intents.actions import do_file_intent
    from intents.models import Intent

    do_file_intent(project, alice, Intent(title="Alice bug", labels=["bug"]), queue=False)
    do_file_intent(project, bob, Intent(title="Bob feature", labels=["feature"]), queue=False)
    c = login(client, alice)
    page = c.get(reverse("project_board", args=[project.pk])).content.decode()
    assert "Alice bug" in page and "Bob feature" in page
    assert 'id="col-draft"' in page and 'id="col-merged"' in page
    filtered = c.get(reverse("project_board", args=[project.pk]), {"label": "bug"}).content.decode()
    assert "Alice bug" in filtered and "Bob feature" not in filtered
    by_bob = c.get(reverse("project_board", args=[project.pk]), {"author": "bob"}).content.decode()
    assert "Bob feature" in by_bob and "Alice bug" not in by_bob


def test_the_board_answers_htmx_with_just_the_board(client, alice, project):
    response = login(client, alice).get(reverse("project_board", args=[project.pk]), {"label": "x"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="board"')
    assert "<html" not in body


def test_the_board_filters_are_cached_yet_offer_a_new_label_at_once(
    client, alice, project, django_capture_on_commit_callbacks
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from intents.actions import do_file_intent
    from intents.models import Intent

    c = login(client, alice)
    url = reverse("project_board", args=[project.pk])
    assert 'value="urgent"' not in c.get(url).content.decode()
    with CaptureQueriesContext(connection) as again:
        c.get(url)
    assert not any("unnest" in q["sql"] for q in again.captured_queries)  # the lists came from the cache
    with django_capture_on_commit_callbacks(execute=True):
        do_file_intent(project, alice, Intent(title="Hot", labels=["urgent"]), queue=False)
    assert 'value="urgent"' in c.get(url).content.decode()
