"""Requesting changes: the comments go to a new run on the same branch, and the next round comes back."""

from __future__ import annotations

from django.urls import reverse

from accounts.models import AuditEntry
from agents.prompts import task_message
from agents.task import RepoGuidance
from intents.models import Status
from reviews.models import CRStatus, ReviewComment
from runs.models import AgentRun, RunStatus
from runs.pipeline import task_for
from tests.conftest import login
from tests.reviews.changes import change_request_of, fix_word_count, propose, textstats

TABS = textstats().replace('"""Small text statistics."""', '"""Small text statistics (tabs count as spaces)."""')


def review_with_comments(client, alice, cr):  # type: ignore[no-untyped-def]
    login(client, alice)
    client.post(
        reverse("cr_comment", args=[cr.pk]),
        {"path": "textstats.py", "line": "8", "side": "new", "body": "Also handle tabs here."},
        HTTP_HX_REQUEST="true",
    )
    client.post(
        reverse("cr_comment", args=[cr.pk]),
        {"path": "textstats.py", "line": "8", "side": "old", "body": "Why was this wrong?"},
        HTTP_HX_REQUEST="true",
    )
    client.post(reverse("cr_comment", args=[cr.pk]), {"body": "Please add a test."}, HTTP_HX_REQUEST="true")
    return client.post(reverse("cr_decide", args=[cr.pk]), {"decision": "request_changes", "body": "Nearly there."})


def test_request_changes_starts_a_second_run_on_the_same_branch_with_the_comments(client, alice, intent, model):
    fix_word_count(intent)
    cr = change_request_of(intent)

    response = review_with_comments(client, alice, cr)

    assert response.status_code == 302
    run = AgentRun.objects.get(intent=intent, round=2)
    assert run.kind == "revise" and run.branch == cr.branch and run.status == RunStatus.QUEUED
    assert run.base_sha == cr.base_sha  # the next diff is the whole change, not just the new part
    assert run.feedback == [
        {"file": "textstats.py", "line": 8, "text": "Also handle tabs here."},
        {"file": "textstats.py", "line": 8, "text": "(on line 8 of the version before your change, a line you removed) Why was this wrong?"},
        {"file": None, "line": None, "text": "Please add a test."},
        {"file": None, "line": None, "text": "Nearly there."},
    ]
    assert all(c.sent_to_agent for c in ReviewComment.objects.all())
    intent.refresh_from_db()
    assert intent.status == Status.QUEUED
    entry = AuditEntry.objects.get(action="review.request_changes")
    assert entry.actor == alice and entry.after["round"] == 2 and entry.after["comments"] == 4


def test_the_second_run_sees_the_comments_in_what_the_agent_is_told(client, alice, intent, model):
    fix_word_count(intent)
    cr = change_request_of(intent)
    review_with_comments(client, alice, cr)
    run = AgentRun.objects.select_related("intent", "project").get(intent=intent, round=2)

    task = task_for(run)
    prompt = task_message(task, RepoGuidance(), None, ask_plan=False)

    assert [c.text for c in task.comments()][0] == "Also handle tabs here."
    assert "textstats.py:8: Also handle tabs here." in prompt
    assert "general: Please add a test." in prompt and "general: Nearly there." in prompt


def test_the_next_round_comes_back_to_the_same_change_request(client, alice, intent, model):
    first = fix_word_count(intent)
    cr = change_request_of(intent)
    review_with_comments(client, alice, cr)
    run = AgentRun.objects.get(intent=intent, round=2)

    second = propose(intent, {"textstats.py": TABS}, run=run, summary="Documented tabs.")

    cr.refresh_from_db()
    intent.refresh_from_db()
    assert cr.run == second and cr.rounds == 2 and cr.branch == first.branch and cr.status == CRStatus.OPEN
    assert intent.status == Status.IN_REVIEW
    # The branch continued: round 2 sits on top of round 1, and its diff still holds the first fix.
    assert second.base_sha == first.base_sha and "+    return len(text.split())" in second.diff
    page = login(client, alice).get(reverse("change_request", args=[cr.pk])).content.decode()
    assert "Round 1" in page and "Round 2" in page and "Documented tabs." in page
    assert "requested changes" in page and "Also handle tabs here." in page and "sent to the agent" in page


def test_no_decision_while_the_agent_works_on_the_next_round(client, alice, intent, model):
    fix_word_count(intent)
    cr = change_request_of(intent)
    review_with_comments(client, alice, cr)

    client.post(reverse("cr_decide", args=[cr.pk]), {"decision": "approve"})

    cr.refresh_from_db()
    assert cr.status == CRStatus.OPEN and not cr.reviews.filter(decision="approve").exists()
    page = client.get(reverse("change_request", args=[cr.pk])).content.decode()
    assert "An agent is working on round 2" in page


def test_after_a_failed_round_the_change_can_be_sent_back_again_but_not_approved(client, alice, intent, model):
    from runs.rounds import finish_round

    fix_word_count(intent)
    cr = change_request_of(intent)
    review_with_comments(client, alice, cr)
    AgentRun.objects.filter(intent=intent, round=2).update(status=RunStatus.FAILED, reason="the model server went away")
    finish_round(intent.pk, 2)
    intent.refresh_from_db()
    assert intent.status == Status.FAILED

    page = client.get(reverse("change_request", args=[cr.pk])).content.decode()
    assert "The last round failed" in page and 'value="approve"' not in page and 'value="request_changes"' in page
    client.post(reverse("cr_decide", args=[cr.pk]), {"decision": "approve"})
    assert not cr.reviews.filter(decision="approve").exists()

    client.post(reverse("cr_decide", args=[cr.pk]), {"decision": "request_changes", "body": "Try again, please."})

    third = AgentRun.objects.get(intent=intent, round=3)
    assert third.kind == "revise" and third.branch == cr.branch and third.feedback == [{"file": None, "line": None, "text": "Try again, please."}]


def test_a_change_whose_intent_was_cancelled_elsewhere_cannot_be_approved(client, alice, intent):
    from runs.actions import do_cancel_intent

    fix_word_count(intent)
    cr = change_request_of(intent)
    do_cancel_intent(intent, alice)

    response = login(client, alice).post(reverse("cr_decide", args=[cr.pk]), {"decision": "approve"})

    assert response.status_code == 302
    assert not cr.reviews.exists()
    assert client.get(reverse("change_request", args=[cr.pk])).status_code == 200
