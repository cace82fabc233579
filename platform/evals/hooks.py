"""What the runs app tells us: a run of ``intent_id``'s round ``round_`` ended (``runs.rounds.finish_round``,
on commit). Store the rewards of the round's finished runs and queue grading for the evaluation results among them."""

from __future__ import annotations

from evals import rewards
from evals.models import EvalResult, GradeStatus
from runs.models import FINISHED, AgentRun


def round_changed(intent_id: int, round_: int) -> None:
    from evals.tasks import grade_result

    finished = list(
        AgentRun.objects.filter(intent_id=intent_id, round=round_, status__in=list(FINISHED)).values_list(
            "pk", flat=True
        )
    )
    for run_id in finished:
        rewards.record(run_id)
    waiting = EvalResult.objects.filter(run_id__in=finished, status=GradeStatus.PENDING).values_list(
        "pk", flat=True
    )
    for result_id in waiting:
        grade_result.delay(result_id)
