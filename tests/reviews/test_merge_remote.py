"""Merging into a remote repository over real HTTP (git http-backend on loopback, basic auth)."""

from __future__ import annotations

import base64
import logging

import pytest
from django.urls import reverse

from accounts.models import AuditEntry
from intents.models import Status
from reviews.actions import do_approve
from reviews.models import ChangeRequest, CRStatus
from tests.conftest import login
from tests.reviews.changes import FIXED, change_request_of, fix_word_count, git
from tests.reviews.conftest import REMOTE_TOKEN, REMOTE_USER


def approved_change(intent, alice) -> ChangeRequest:  # type: ignore[no-untyped-def]
    fix_word_count(intent)
    cr = change_request_of(intent)
    do_approve(cr, alice)
    cr.refresh_from_db()
    return cr


@pytest.mark.parametrize("strategy", ["merge", "squash", "ff"])
def test_each_strategy_is_pushed_to_the_remote_base_branch_with_the_projects_credentials(
    client, alice, remote_intent, remote_repo, git_server, strategy
):
    before = git(remote_repo, "rev-parse", "main")
    cr = approved_change(remote_intent, alice)

    response = login(client, alice).post(reverse("cr_merge", args=[cr.pk]), {"strategy": strategy})

    assert response.status_code == 302
    cr.refresh_from_db()
    remote_intent.refresh_from_db()
    assert cr.status == CRStatus.MERGED and remote_intent.status == Status.MERGED
    assert git(remote_repo, "rev-parse", "main") == cr.merge_commit
    assert FIXED in git(remote_repo, "show", "main:textstats.py") + "\n"
    parents = git(remote_repo, "log", "-1", "--format=%P", "main").split()
    assert parents == {"merge": [before, cr.head_sha], "squash": [before], "ff": parents}[strategy]
    if strategy == "ff":
        assert cr.merge_commit == cr.head_sha
    # The push went through the server's authentication, as the project's user.
    pushes = [a for a in git_server.log if a.path.endswith("/git-receive-pack")]
    assert pushes and all(a.user == REMOTE_USER and a.status == 200 for a in pushes)


def test_credentials_appear_in_no_log_page_or_record(client, alice, vera, remote_intent, remote_repo, git_server, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    cr = approved_change(remote_intent, alice)
    login(client, alice).post(reverse("cr_merge", args=[cr.pk]), {"strategy": "squash"})
    client.post(reverse("cr_delete_branch", args=[cr.pk]))
    cr.refresh_from_db()
    assert cr.status == CRStatus.MERGED

    encoded = base64.b64encode(f"{REMOTE_USER}:{REMOTE_TOKEN}".encode()).decode()
    pages = [
        client.get(reverse("change_request", args=[cr.pk])),
        client.get(reverse("cr_commit", args=[cr.pk])),
        client.get(reverse("cr_patch", args=[cr.pk])),
        client.get(reverse("audit_log")),
        client.get(reverse("project_settings", args=[cr.project_id])),
        client.get(reverse("run_trajectory", args=[cr.run_id])),
        login(client, vera).get(reverse("change_request", args=[cr.pk])),
    ]
    out, err = capfd.readouterr()
    texts = [p.content.decode() for p in pages] + [caplog.text, out, err]
    texts += [str(vars(e)) for e in AuditEntry.objects.all()]
    texts += [str(vars(ChangeRequest.objects.get(pk=cr.pk)))]
    texts += [str(e) for e in git_server.log]
    texts.append(git(remote_repo, "log", "--all", "--format=%B%n%an%n%cn"))
    assert all(p.status_code == 200 for p in pages)
    for text in texts:
        assert REMOTE_TOKEN not in text and encoded not in text


def test_a_refused_push_shows_a_clear_error_page_without_the_credentials(client, alice, remote_intent, remote_repo, git_server):
    cr = approved_change(remote_intent, alice)
    before = git(remote_repo, "rev-parse", "main")
    git_server.password = "the-token-was-rotated"  # the project's token no longer works

    response = login(client, alice).post(reverse("cr_merge", args=[cr.pk]), {"strategy": "merge"})

    assert response.status_code == 502
    body = response.content.decode()
    assert "The change was not merged" in body and "Authentication failed" in body
    assert REMOTE_TOKEN not in body
    assert git(remote_repo, "rev-parse", "main") == before
    cr.refresh_from_db()
    assert cr.status == CRStatus.APPROVED and REMOTE_TOKEN not in cr.merge_error
    failed = AuditEntry.objects.get(action="review.merge_failed")
    assert REMOTE_TOKEN not in str(failed.after)


def test_deleting_the_branch_removes_it_from_the_remote(client, alice, remote_intent, remote_repo):
    cr = approved_change(remote_intent, alice)
    assert git(remote_repo, "branch", "--list", cr.branch)  # published there by the run, as a forge branch
    login(client, alice).post(reverse("cr_merge", args=[cr.pk]), {"strategy": "merge"})

    client.post(reverse("cr_delete_branch", args=[cr.pk]))

    assert git(remote_repo, "branch", "--list", cr.branch) == ""
    assert git(remote_repo, "branch", "--list", "main")
    entry = AuditEntry.objects.get(action="review.delete_branch")
    assert entry.after == {"deleted": [cr.branch]}
