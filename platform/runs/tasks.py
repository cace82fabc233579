"""Celery tasks: thin, named, taking ids; the work is in plain functions."""

from __future__ import annotations

from typing import Any

from celery import shared_task


@shared_task(name="runs.tasks.execute_run", acks_late=True, reject_on_worker_lost=True)
def execute_run(run_id: int, lease: str, **_: Any) -> str:
    from runs.pipeline import execute

    return execute(run_id, lease)


@shared_task(name="runs.tasks.dispatch_queued_runs")
def dispatch_queued_runs(**_: Any) -> int:
    from runs.dispatch import dispatch_queued_runs as dispatch

    return len(dispatch())


@shared_task(name="runs.tasks.recover_stalled_runs")
def recover_stalled_runs(**_: Any) -> int:
    from runs.recovery import recover_stalled_runs as recover

    return len(recover())


@shared_task(name="runs.tasks.reap_sandboxes")
def reap_sandboxes(**_: Any) -> int:
    from runs.recovery import reap_sandboxes as reap

    return len(reap())
