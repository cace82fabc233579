"""Every page, as the owner, a teammate, an outsider and an anonymous visitor."""

import pytest
from django.urls import reverse

from reviews.models import ChangeRequest
from runs.models import AgentRun, ModelConfig
from tests.conftest import login


@pytest.fixture
def things(team, project, intent, alice):
    model = ModelConfig.objects.create(team=team, name="local", base_url="http://127.0.0.1:9/v1", model="m")
    run = AgentRun.objects.create(intent=intent, team=team, project=project, model=model, status="done", diff="x")
    cr = ChangeRequest.objects.create(
        intent=intent, team=team, project=project, run=run, branch="slipway/1-x/1", base_branch="main", base_sha="a", head_sha="b"
    )
    return {
        "project_board": [project.pk],
        "project_settings": [project.pk],
        "intent_new": [project.pk],
        "intent_detail": [intent.pk],
        "run_detail": [run.pk],
        "change_request": [cr.pk],
        "model_edit": [model.pk],
    }


OBJECT_PAGES = ["project_board", "project_settings", "intent_new", "intent_detail", "run_detail", "change_request", "model_edit"]
TEAM_PAGES = ["home", "project_list", "dashboard", "team_settings", "model_list"]


@pytest.mark.parametrize("name", OBJECT_PAGES)
def test_the_owner_sees_each_page(client, alice, things, name):
    assert login(client, alice).get(reverse(name, args=things[name])).status_code == 200


@pytest.mark.parametrize("name", OBJECT_PAGES)
def test_a_teammate_sees_each_page(client, bob, things, name):
    assert login(client, bob).get(reverse(name, args=things[name])).status_code == 200


@pytest.mark.parametrize("name", OBJECT_PAGES)
def test_an_outsider_gets_404_for_each_page(client, mallory, things, name):
    assert login(client, mallory).get(reverse(name, args=things[name])).status_code == 404


@pytest.mark.parametrize("name", OBJECT_PAGES + TEAM_PAGES)
def test_an_anonymous_visitor_is_sent_to_sign_in(client, things, name):
    url = reverse(name, args=things.get(name, []))
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("name", TEAM_PAGES)
def test_team_pages_show_only_the_users_own_team(client, mallory, things, name):
    body = login(client, mallory).get(reverse(name), follow=True).content.decode()
    assert "Alice&#x27;s team" not in body and "Alice's team" not in body
    assert "Fix word_count" not in body


@pytest.mark.parametrize("name", TEAM_PAGES)
def test_team_pages_render_for_the_owner(client, alice, things, name):
    response = login(client, alice).get(reverse(name))
    assert response.status_code == 200


def test_an_outsider_cannot_post_to_alices_intent(client, mallory, things, intent):
    c = login(client, mallory)
    assert c.post(reverse("intent_comment", args=[intent.pk]), {"body": "hi"}).status_code == 404
    assert c.post(reverse("intent_cancel", args=[intent.pk])).status_code == 404
    assert c.post(reverse("intent_queue", args=[intent.pk])).status_code == 404
    assert intent.comments.count() == 0


def test_an_outsider_cannot_change_alices_project(client, mallory, project):
    response = login(client, mallory).post(reverse("project_settings", args=[project.pk]), {"name": "pwned"})
    assert response.status_code == 404
    project.refresh_from_db()
    assert project.name == "demo"


def test_switching_to_a_team_you_are_not_in_does_nothing(client, mallory, team):
    c = login(client, mallory)
    c.post(reverse("team_switch"), {"team": team.pk})
    body = c.get(reverse("project_list")).content.decode()
    assert "demo" not in body
