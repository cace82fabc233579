"""Celery tasks: thin, named, taking ids; the work is in plain functions."""

from __future__ import annotations

from typing import Any

from celery import shared_task


@shared_task(name="runs.tasks.execute_run", bind=True, acks_late=True, reject_on_worker_lost=True)
def execute_run(self: Any, run_id: int, lease: str, **_: Any) -> str:
    from runs.pipeline import execute

    # The worker's own name, as its heartbeat row has it: the dashboard joins runs to workers by it.
    return execute(run_id, lease, worker=self.request.hostname or "")


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


@shared_task(name="runs.tasks.stock_workspaces")
def stock_workspaces(project_id: int, **_: Any) -> int:
    """Check out a spare workspace of the project's mirror, so the next run adopts it instead of a checkout."""
    from pathlib import Path

    from django.conf import settings

    from agents.workspace import MirrorCache
    from projects.models import Project

    project = Project.objects.filter(pk=project_id).only("default_branch").first()
    mirrors = MirrorCache(Path(settings.SLIPWAY_MIRROR_DIR))
    if project is None or not (mirrors.mirror_path(f"project-{project_id}") / "HEAD").exists():
        return 0
    return mirrors.stock(
        f"project-{project_id}", base=f"refs/heads/{project.default_branch}", count=settings.SLIPWAY_SPARE_WORKSPACES
    )
