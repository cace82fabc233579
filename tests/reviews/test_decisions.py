"""Approve, request changes, close: who may, what each does, and that the agent never decides."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import AuditEntry
from intents.models import Status
from reviews.actions import do_approve, do_close, do_comment, do_request_changes
from reviews.merging import do_merge
from reviews.models import CRStatus, Review
from reviews.policy import ReviewError
from runs.models import AgentRun, RunStatus
from tests.conftest import login
from tests.reviews.changes import change_request_of, fix_word_count, git, propose, textstats


def decide(client, cr, decision: str, body: str = ""):  # type: ignore[no-untyped-def]
    return client.post(reverse("cr_decide", args=[cr.pk]), {"decision": decision, "body": body})


@pytest.fixture
def cr(intent):  # type: ignore[no-untyped-def]
    fix_word_count(intent)
    return change_request_of(intent)


def test_a_maintainers_approval_approves_the_change(client, alice, cr):
    response = decide(login(client, alice), cr, "approve", "Looks right.")

    assert response.status_code == 302
    cr.refresh_from_db()
    assert cr.status == CRStatus.APPROVED and cr.approved_by == alice
    assert cr.intent.status == Status.APPROVED
    review = Review.objects.get(change_request=cr)
    assert review.decision == "approve" and review.head_sha == cr.head_sha
    entry = AuditEntry.objects.get(action="review.approve")
    assert entry.actor == alice and entry.before["status"] == "open" and entry.after["status"] == "approved"


def test_a_members_approval_is_recorded_but_does_not_meet_the_maintainer_rule(client, bob, cr):
    decide(login(client, bob), cr, "approve")

    cr.refresh_from_db()
    assert cr.status == CRStatus.OPEN
    assert Review.objects.filter(reviewer=bob, decision="approve").exists()
    page = client.get(reverse("change_request", args=[cr.pk])).content.decode()
    assert "requires a maintainer&#x27;s approval" in page
    assert "review.approve" in AuditEntry.objects.values_list("action", flat=True)


def test_without_the_maintainer_rule_a_member_approves_and_merges(client, bob, cr, project, demo_repo):
    project.require_maintainer_approval = False
    project.save()
    decide(login(client, bob), cr, "approve")
    cr.refresh_from_db()
    assert cr.status == CRStatus.APPROVED

    client.post(reverse("cr_merge", args=[cr.pk]), {"strategy": "merge"})

    cr.refresh_from_db()
    assert cr.status == CRStatus.MERGED and cr.merged_by == bob


def test_an_approval_is_for_one_version_only(alice, cr, intent, model):
    do_approve(cr, alice)
    do_comment(cr, alice, "Also handle tabs.")
    run = do_request_changes(cr, alice)
    propose(intent, {"textstats.py": textstats() + "\n# tabs count as whitespace too\n"}, run=run, summary="Now tabs too.")
    cr.refresh_from_db()
    assert cr.status == CRStatus.OPEN and cr.approved_by is None
    with pytest.raises(ReviewError, match="maintainer"):
        do_merge(cr, alice, "merge")


def test_the_agent_cannot_approve_even_as_a_team_maintainer(client, agent_account, cr, demo_repo):
    response = decide(login(client, agent_account), cr, "approve")

    assert response.status_code == 302
    cr.refresh_from_db()
    assert cr.status == CRStatus.OPEN and not Review.objects.exists()
    with pytest.raises(ReviewError, match="agent"):
        do_approve(cr, agent_account)
    with pytest.raises(ReviewError, match="agent"):
        do_merge(cr, agent_account, "merge")
    page = client.get(reverse("change_request", args=[cr.pk])).content.decode()
    assert 'value="approve"' not in page and "Merge into main" not in page


def test_no_decision_can_be_attributed_to_a_run_or_to_nobody(cr, alice):
    from django.contrib.auth.models import AnonymousUser

    for actor in (cr.run, None, AnonymousUser()):
        with pytest.raises(ReviewError, match="signed-in person"):
            do_approve(cr, actor)
        with pytest.raises(ReviewError, match="signed-in person"):
            do_merge(cr, actor, "merge")
        with pytest.raises(ReviewError, match="signed-in person"):
            do_request_changes(cr, actor, "do it again")
    assert not Review.objects.exists()


def test_a_viewer_can_read_but_not_approve_merge_or_comment(client, vera, alice, cr, demo_repo):
    do_approve(cr, alice)
    head = git(demo_repo, "rev-parse", "main")
    login(client, vera)

    assert client.get(reverse("change_request", args=[cr.pk])).status_code == 200
    assert decide(client, cr, "approve").status_code == 403
    assert decide(client, cr, "close").status_code == 403
    assert client.post(reverse("cr_merge", args=[cr.pk]), {"strategy": "merge"}).status_code == 403
    assert client.post(reverse("cr_comment", args=[cr.pk]), {"body": "hi"}).status_code == 403
    assert client.post(reverse("cr_rebase", args=[cr.pk])).status_code == 403
    assert git(demo_repo, "rev-parse", "main") == head
    assert Review.objects.filter(reviewer=vera).count() == 0


def test_request_changes_needs_something_to_say(client, alice, cr, model):
    response = decide(login(client, alice), cr, "request_changes", "")
    assert response.status_code == 302
    assert not AgentRun.objects.filter(kind="revise").exists()
    messages = [m.message for m in response.wsgi_request._messages]
    assert any("Say what to change" in m for m in messages)


def test_close_cancels_the_intent_and_is_audited(client, alice, cr):
    decide(login(client, alice), cr, "close", "Not needed after all.")

    cr.refresh_from_db()
    assert cr.status == CRStatus.CLOSED and cr.closed_at is not None
    assert cr.intent.status == Status.CANCELLED
    actions = set(AuditEntry.objects.filter(actor=alice).values_list("action", flat=True))
    assert {"review.close", "intent.cancel"} <= actions
    assert decide(client, cr, "approve").status_code == 302
    cr.refresh_from_db()
    assert cr.status == CRStatus.CLOSED


def test_closing_while_the_next_round_runs_cancels_that_run(alice, cr, model):
    do_comment(cr, alice, "Rename it.")
    run = do_request_changes(cr, alice)
    do_close(cr, alice)
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED
