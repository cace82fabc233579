"""Change requests: proposing an agent's result for review, and the decisions people take on it.

Each ``do_*`` is atomic, audited (who, what, before and after) and tells the
team's pages on commit. Decisions take the person from the request and refuse
anyone else (see ``reviews.policy``). Merging, which talks to git, lives in
``reviews.merging``.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts import audit
from intents.models import Intent, Status
from reviews import diffs
from reviews.models import ChangeRequest, CRStatus, Decision, Review, ReviewComment, Side
from reviews.policy import ReviewError, approval_counts, approved, require_open, require_person
from runs import broadcast
from runs.models import AgentRun, RunStatus


@transaction.atomic
def do_propose(intent: Intent, run: AgentRun) -> ChangeRequest:
    """Open the intent's change request with ``run``, or move it to this newer round."""
    from intents.actions import do_set_status

    cr = ChangeRequest.objects.select_for_update().filter(intent=intent).first()
    if cr is None:
        cr = ChangeRequest.objects.create(
            intent=intent,
            team_id=intent.team_id,
            project_id=intent.project_id,
            run=run,
            branch=run.branch,
            base_branch=intent.project.default_branch,
            base_sha=run.base_sha,
            head_sha=run.head_sha,
            rounds=run.round,
        )
    else:
        cr.run = run
        cr.branch = run.branch
        cr.base_sha = run.base_sha
        cr.head_sha = run.head_sha
        cr.rounds = max(cr.rounds, run.round)
        cr.status = CRStatus.OPEN
        cr.approved_at = None
        cr.approved_by = None
        cr.clear_merge_check()
        cr.save()
    do_set_status(intent, Status.IN_REVIEW)
    _changed(cr)
    return cr


@transaction.atomic
def do_comment(
    cr: ChangeRequest, actor: Any, body: str, *, path: str = "", line: int | None = None, side: str = Side.NEW
) -> ReviewComment:
    """A general comment, or one on a line of the proposed diff; sent to the agent with the next request for changes."""
    require_person(cr, actor, "comment on this change")
    if not body.strip():
        raise ReviewError("Write something first.")
    if path:
        if line is None or line < 1 or side not in Side.values:
            raise ReviewError("A line comment needs a line of the diff.")
        if path not in diffs.changed_paths(cr.run.diff):
            raise ReviewError("That file is not part of this change.")
    else:
        line, side = None, Side.NEW
    comment = ReviewComment.objects.create(
        change_request=cr, round=cr.run.round, run=cr.run, author=actor, path=path, line=line, side=side, body=body.strip()
    )
    _mark_reviewed(cr)
    _changed(cr)
    return comment


@transaction.atomic
def do_approve(cr: ChangeRequest, actor: Any, body: str = "") -> ChangeRequest:
    """Approve the proposed commit. It counts towards merging if the project's approval rule accepts the approver."""
    from intents.actions import do_set_status

    locked = _lock(cr)
    require_person(locked, actor, "approve a change")
    require_open(locked)
    before = _state(locked)
    Review.objects.create(
        change_request=locked, round=locked.run.round, reviewer=actor, decision=Decision.APPROVE, body=body, head_sha=locked.head_sha
    )
    counts = approval_counts(locked, actor)
    if approved(locked) and locked.status != CRStatus.APPROVED:
        locked.status = CRStatus.APPROVED
        locked.approved_at = timezone.now()
        locked.approved_by = actor
        do_set_status(locked.intent, Status.APPROVED, actor)
    _mark_reviewed(locked)
    locked.save()
    summary = f"approved the change for #{locked.intent_id}" + ("" if counts else " (a maintainer's approval is still required)")
    audit.record(locked.team, actor, "review.approve", locked, summary, before, _state(locked) | {"head": locked.head_sha})
    _changed(locked)
    record_verdict_on_commit(locked.run_id)
    return locked


@transaction.atomic
def do_request_changes(cr: ChangeRequest, actor: Any, body: str = "") -> AgentRun:
    """Send the change back: a new run on the same branch, with the unsent review comments as its feedback."""
    from intents.actions import do_set_status
    from runs.actions import QueueError, do_queue_intent

    locked = _lock(cr)
    require_person(locked, actor, "request changes")
    require_open(locked, after_failure=True)
    before = _state(locked)
    comments = list(locked.comments.filter(sent_to_agent=False).order_by("created_at", "id"))
    feedback = [c.as_feedback() for c in comments]
    if body.strip():
        feedback.append({"file": None, "line": None, "text": body.strip()})
    if not feedback:
        raise ReviewError("Say what to change: comment on a line, or write it in the review.")
    Review.objects.create(
        change_request=locked, round=locked.run.round, reviewer=actor, decision=Decision.REQUEST_CHANGES, body=body.strip(), head_sha=locked.head_sha
    )
    if locked.intent.can_transition(Status.CHANGES_REQUESTED):
        do_set_status(locked.intent, Status.CHANGES_REQUESTED, actor)
    try:
        (run,) = do_queue_intent(locked.intent, actor, kind="revise", feedback=feedback, branch=locked.branch)
    except QueueError as exc:
        raise ReviewError(str(exc)) from None
    # The next round's diff starts where this change started, so the page shows the whole change.
    run.base_sha = locked.base_sha
    run.save(update_fields=["base_sha"])
    ReviewComment.objects.filter(pk__in=[c.pk for c in comments]).update(sent_to_agent=True)
    locked.status = CRStatus.OPEN
    locked.approved_at = None
    locked.approved_by = None
    _mark_reviewed(locked)
    locked.save()
    after = _state(locked) | {"round": run.round, "run": run.pk, "comments": len(feedback)}
    audit.record(locked.team, actor, "review.request_changes", locked, f"requested changes on #{locked.intent_id}: round {run.round}", before, after)
    _changed(locked)
    record_verdict_on_commit(locked.run_id)
    return run


@transaction.atomic
def do_close(cr: ChangeRequest, actor: Any, body: str = "") -> ChangeRequest:
    """Reject the change: the request closes and the intent is cancelled (with any run still going)."""
    from runs.actions import do_cancel_intent

    locked = _lock(cr)
    require_person(locked, actor, "close a change request")
    if not locked.is_open:
        raise ReviewError(f"This change request is already {locked.get_status_display().lower()}.")
    before = _state(locked)
    Review.objects.create(
        change_request=locked, round=locked.run.round, reviewer=actor, decision=Decision.CLOSE, body=body.strip(), head_sha=locked.head_sha
    )
    locked.status = CRStatus.CLOSED
    locked.closed_at = timezone.now()
    _mark_reviewed(locked)
    locked.save()
    if locked.intent.can_transition(Status.CANCELLED):
        do_cancel_intent(locked.intent, actor)
    locked.intent.refresh_from_db(fields=["status"])
    audit.record(locked.team, actor, "review.close", locked, f"closed the change for #{locked.intent_id}", before, _state(locked))
    _changed(locked)
    record_verdict_on_commit(locked.run_id)
    return locked


@transaction.atomic
def do_pick_attempt(cr: ChangeRequest, actor: Any, run: AgentRun) -> ChangeRequest:
    """Propose another finished attempt of the same round instead of the one the ranking chose."""
    from intents.actions import do_set_status

    locked = _lock(cr)
    require_person(locked, actor, "pick another attempt")
    require_open(locked)
    if run.intent_id != locked.intent_id or run.round != locked.run.round or run.status != RunStatus.DONE:
        raise ReviewError("Only a finished attempt of this round can be proposed instead.")
    if run.pk == locked.run_id:
        return locked
    before = _state(locked) | {"run": locked.run_id, "attempt": locked.run.attempt}
    record_verdict_on_commit(locked.run_id, run.pk)
    locked.run = run
    locked.branch = run.branch
    locked.base_sha = run.base_sha
    locked.head_sha = run.head_sha
    locked.status = CRStatus.OPEN
    locked.approved_at = None
    locked.approved_by = None
    locked.clear_merge_check()
    locked.save()
    if locked.intent.status == Status.APPROVED:
        do_set_status(locked.intent, Status.IN_REVIEW, actor)
    after = _state(locked) | {"run": run.pk, "attempt": run.attempt}
    audit.record(locked.team, actor, "review.pick_attempt", locked, f"proposed attempt {run.attempt} for #{locked.intent_id}", before, after)
    _changed(locked)
    return locked


@transaction.atomic
def do_rebase_with_agent(cr: ChangeRequest, actor: Any) -> AgentRun:
    """The base moved and the change no longer applies: a run that merges the new base in and resolves it."""
    from runs.actions import QueueError, do_queue_intent

    locked = _lock(cr)
    require_person(locked, actor, "start a rebase")
    require_open(locked, after_failure=True)
    before = _state(locked)
    try:
        (run,) = do_queue_intent(locked.intent, actor, kind="rebase", branch=locked.branch)
    except QueueError as exc:
        raise ReviewError(str(exc)) from None
    locked.status = CRStatus.OPEN
    locked.approved_at = None
    locked.approved_by = None
    locked.save()
    after = _state(locked) | {"round": run.round, "run": run.pk, "conflicts": locked.conflict_files}
    audit.record(locked.team, actor, "review.rebase", locked, f"asked the agent to rebase #{locked.intent_id} on {locked.base_branch}", before, after)
    _changed(locked)
    return run


# -- helpers -----------------------------------------------------------------------------


def _lock(cr: ChangeRequest) -> ChangeRequest:
    return ChangeRequest.objects.select_for_update().select_related("intent", "project", "team", "run").get(pk=cr.pk)


def _state(cr: ChangeRequest) -> dict[str, Any]:
    """What an audit entry records of a change request, before and after."""
    return {"status": cr.status, "intent": cr.intent.status, "head": cr.head_sha[:12]}


def _mark_reviewed(cr: ChangeRequest) -> None:
    if cr.first_reviewed_at is None:
        cr.first_reviewed_at = timezone.now()
        ChangeRequest.objects.filter(pk=cr.pk).update(first_reviewed_at=cr.first_reviewed_at)


def _changed(cr: ChangeRequest) -> None:
    broadcast.send_on_commit(f"team.{cr.team_id}", {"type": "team.changed"})


def record_verdict_on_commit(*run_ids: int) -> None:
    """The human verdict joins each run's stored reward (the learning loop's data), once the decision is in."""
    from evals.rewards import record_verdict

    for run_id in run_ids:
        transaction.on_commit(lambda run_id=run_id: record_verdict(run_id), robust=True)
