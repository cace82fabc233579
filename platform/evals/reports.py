"""What an evaluation hands to the official SWE-bench harness for a cross-check, per model and attempt:
its predictions (``predictions.jsonl``) and the report the harness would write for them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from agents.evaluation import Grade, harness_report
from agents.export import swebench_prediction
from evals.exporting import redactor_for
from evals.models import EvalResult, Evaluation, GradeStatus


def _results(evaluation: Evaluation, model_id: int, attempt: int) -> list[EvalResult]:
    return list(
        EvalResult.objects.filter(evaluation=evaluation, model_id=model_id, attempt=attempt)
        .select_related("task", "run")
        .order_by("task__position", "id")
    )


def predictions(evaluation: Evaluation, model_id: int, attempt: int) -> Iterator[dict[str, Any]]:
    """One prediction per task the model attempted (an empty patch where its run made none), secrets masked."""
    redactor = redactor_for(evaluation.team_id)
    for result in _results(evaluation, model_id, attempt):
        if result.run is None:
            continue  # never run (its repository is not linked): the harness counts it as not submitted
        yield redactor.deep(swebench_prediction(result.task.instance_id, result.model_label, result.run.diff))


def report(evaluation: Evaluation, model_id: int, attempt: int) -> dict[str, Any]:
    """The harness's run summary for these predictions, with each graded instance's ``report.json`` entry."""
    results = _results(evaluation, model_id, attempt)
    instance_ids = list(
        evaluation.suite.tasks.order_by("position", "id").values_list("instance_id", flat=True)
    )
    grades: dict[str, Grade | None] = {}
    for result in results:
        if result.run is None:
            continue
        grades[result.task.instance_id] = _grade(result)
    summary = harness_report(instance_ids, grades)
    label = results[0].model_label if results else ""
    return summary | {
        "model_name_or_path": label,
        "run_id": f"slipway-evaluation-{evaluation.pk}-attempt-{attempt}",
        "reports": {i: g.report() for i, g in grades.items() if g is not None},
    }


def _grade(result: EvalResult) -> Grade | None:
    if result.status in (GradeStatus.PENDING, GradeStatus.GRADING):
        return None
    if result.grade:
        return Grade.from_dict(result.grade)
    return Grade(result.task.instance_id, result.status, error=result.error)  # type: ignore[arg-type]
