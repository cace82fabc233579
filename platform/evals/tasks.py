"""Celery tasks of the learning loop, on the `default` queue: thin, taking ids, safe to run twice."""

from __future__ import annotations

from typing import Any

from celery import shared_task


@shared_task(name="evals.tasks.grade_result", acks_late=True, reject_on_worker_lost=True)
def grade_result(result_id: int, **_: Any) -> str:
    from evals.grading import grade_result as grade

    return grade(result_id)


@shared_task(name="evals.tasks.run_export", acks_late=True, reject_on_worker_lost=True)
def run_export(export_id: int, **_: Any) -> str:
    from evals.exporting import write_export

    return write_export(export_id)


@shared_task(name="evals.tasks.grade_pending")
def grade_pending(**_: Any) -> int:
    """For beat: queue every result whose run ended without its grade being queued (a lost hook)."""
    from evals.grading import queue_pending

    return queue_pending()
