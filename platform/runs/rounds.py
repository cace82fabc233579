"""When every attempt of a round has ended: propose the best for review, or say why none is."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from intents.models import Intent, Status
from runs.models import FINISHED, AgentRun, RunStatus


def rank(run: AgentRun) -> tuple[Any, ...]:
    """Sort key, best first: resolved by tests, then more passing, fewer regressions, smaller, cheaper."""
    reward = run.reward or {}
    after = reward.get("tests_after") or {}
    return (
        0 if run.resolved else 1,
        -int(after.get("passed", 0)),
        len(reward.get("regressions") or ()),
        run.diff_additions + run.diff_deletions,
        run.cost,
        run.attempt,
    )


def best_of(runs: list[AgentRun]) -> AgentRun | None:
    done = [r for r in runs if r.status == RunStatus.DONE]
    return min(done, key=rank) if done else None


@transaction.atomic
def finish_round(intent_id: int, round_: int) -> AgentRun | None:
    """Called as each run ends; acts once the last attempt of the round is in."""
    from evals.hooks import round_changed
    from intents.actions import do_set_status
    from reviews.actions import do_propose

    # Rewards and evaluation grading follow every run's end; robust: they never break a run.
    transaction.on_commit(lambda: round_changed(intent_id, round_), robust=True)
    intent = Intent.objects.select_for_update().select_related("project", "team").get(pk=intent_id)
    runs = list(AgentRun.objects.filter(intent=intent, round=round_))
    if any(r.status not in FINISHED for r in runs):
        return None
    if intent.status not in (Status.RUNNING, Status.QUEUED):
        return None  # cancelled or moved on meanwhile: nothing to propose
    best = best_of(runs)
    if best is not None:
        do_propose(intent, best)
        return best
    if all(r.status == RunStatus.CANCELLED for r in runs):
        do_set_status(intent, Status.CANCELLED)
        return None
    failed = [r for r in runs if r.status == RunStatus.FAILED]
    reason = failed[0].reason if failed else "no attempt produced a change"
    if len(runs) > 1:
        reason = f"none of the {len(runs)} attempts produced a change; attempt 1: {reason}"
    do_set_status(intent, Status.FAILED, reason=reason)
    return None
