"""A run's reward over its life: the execution reward at its end, joined by the human verdict.

The verdict is derived from the change request and its reviews, never stored
by the reviews app: for a run R,

- ``merged`` / ``closed``: R is the change request's proposed run and the request is merged / closed;
- else the latest decision (approve, request changes, close) on R's commit
  (a review whose ``head_sha`` is R's, or one of R's round while R is proposed);
- else none yet.

Definition ``slipway-reward/1`` (``score``):

- no verdict: the execution score (1.0 resolved by the tests, 0.0 not, None without tests);
- merged 1.0, approved 0.75 + 0.25 x execution, changes requested 0.25 x execution, closed 0.0.

A person's word outranks the tests; the tests still separate approved changes
that pass from those that do not. Every stored reward names its version, so a
later definition can be told apart and recomputed (``recompute``).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import OuterRef, Q, QuerySet, Subquery

from evals.models import RunReward, Verdict
from reviews.models import ChangeRequest, CRStatus, Decision, Review
from runs.models import FINISHED, AgentRun

REWARD_VERSION = "slipway-reward/1"
_DECISIONS = {
    Decision.APPROVE: Verdict.APPROVED,
    Decision.REQUEST_CHANGES: Verdict.CHANGES_REQUESTED,
    Decision.CLOSE: Verdict.CLOSED,
}


def with_verdict(runs: QuerySet[AgentRun]) -> QuerySet[AgentRun]:
    """``runs`` annotated with ``cr_status`` and ``last_decision``, from which ``verdict_of`` reads the verdict."""
    proposed = ChangeRequest.objects.filter(run_id=OuterRef("pk")).values("status")[:1]
    on_this_commit = Q(head_sha=OuterRef("head_sha")) & ~Q(head_sha="")
    while_proposed = Q(round=OuterRef("round"), change_request__run_id=OuterRef("pk"))
    decisions = (
        Review.objects.filter(change_request__intent_id=OuterRef("intent_id"), decision__in=list(_DECISIONS))
        .filter(on_this_commit | while_proposed)
        .order_by("-created_at", "-id")
        .values("decision")[:1]
    )
    return runs.annotate(cr_status=Subquery(proposed), last_decision=Subquery(decisions))


def verdict_of(cr_status: str | None, last_decision: str | None) -> str:
    if cr_status == CRStatus.MERGED:
        return Verdict.MERGED
    if cr_status == CRStatus.CLOSED:
        return Verdict.CLOSED
    return _DECISIONS.get(last_decision or "", Verdict.NONE)  # type: ignore[call-overload]


def verdict_filter(outcome: str) -> Q:
    """Runs of a ``with_verdict`` queryset whose verdict is ``outcome`` (approved includes merged)."""
    if outcome == Verdict.MERGED:
        return Q(cr_status=CRStatus.MERGED)
    if outcome == Verdict.APPROVED:
        approved = Q(last_decision=Decision.APPROVE) & ~Q(cr_status=CRStatus.CLOSED)
        return Q(cr_status__in=[CRStatus.APPROVED, CRStatus.MERGED]) | approved
    raise ValueError(f"no verdict filter for {outcome!r}")


def score(resolved: bool | None, verdict: str) -> float | None:
    execution = None if resolved is None else (1.0 if resolved else 0.0)
    if verdict == Verdict.MERGED:
        return 1.0
    if verdict == Verdict.CLOSED:
        return 0.0
    if verdict == Verdict.APPROVED:
        return 0.75 + 0.25 * (execution or 0.0)
    if verdict == Verdict.CHANGES_REQUESTED:
        return 0.25 * (execution or 0.0)
    return execution


def reward_dict(execution: dict[str, Any] | None, resolved: bool | None, verdict: str) -> dict[str, Any]:
    """The reward as exports and pages show it."""
    return {
        "version": REWARD_VERSION,
        "score": score(resolved, verdict),
        "resolved": resolved,
        "verdict": verdict or None,
        "execution": execution,
    }


def verdict_for(run_id: int) -> str:
    row = with_verdict(AgentRun.objects.filter(pk=run_id)).values("cr_status", "last_decision").first()
    return verdict_of(row["cr_status"], row["last_decision"]) if row else Verdict.NONE


@transaction.atomic
def record(run_id: int) -> RunReward | None:
    """Store the run's reward as it stands now (execution and verdict); None for a run not finished or gone."""
    run = (
        AgentRun.objects.filter(pk=run_id, status__in=list(FINISHED))
        .only("pk", "team_id", "reward", "resolved")
        .first()
    )
    if run is None:
        return None
    verdict = verdict_for(run_id)
    reward, _ = RunReward.objects.update_or_create(
        run_id=run.pk,
        defaults={
            "team_id": run.team_id,
            "version": REWARD_VERSION,
            "execution": run.reward,
            "resolved": run.resolved,
            "verdict": verdict,
            "score": score(run.resolved, verdict),
        },
    )
    return reward


def record_verdict(run_id: int) -> RunReward | None:
    """For the review actions: call after a decision (approve, request changes, close, merge) on ``run_id``'s change."""
    return record(run_id)


def recompute(team_id: int | None = None) -> int:
    """Store every finished run's reward again under the current definition; how many."""
    runs = AgentRun.objects.filter(status__in=list(FINISHED))
    if team_id is not None:
        runs = runs.filter(team_id=team_id)
    count = 0
    for run_id in runs.values_list("pk", flat=True).iterator(chunk_size=500):
        count += record(run_id) is not None
    return count
