"""Runs whose worker died, and sandboxes nobody owns any more. Called from beat."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from runs import broadcast
from runs.models import AgentRun, RunEvent, RunStatus

log = logging.getLogger(__name__)

# A dispatched run that no worker claimed within this long was lost in the broker: send it again.
UNCLAIMED_AFTER = timedelta(minutes=10)


def _next_seq(run_id: int) -> int:
    last = RunEvent.objects.filter(run_id=run_id).order_by("-seq").values_list("seq", flat=True).first()
    return (last or 0) + 1


def recover_stalled_runs() -> list[int]:
    """Requeue runs whose heartbeat stopped (worker killed) once per policy, else fail them."""
    stalled_before = timezone.now() - timedelta(seconds=settings.SLIPWAY_STALL_SECONDS)
    recovered: list[int] = []
    candidates = list(
        AgentRun.objects.filter(status=RunStatus.RUNNING, heartbeat_at__lt=stalled_before).values_list("pk", flat=True)
    )
    for run_id in candidates:
        with transaction.atomic():
            run = AgentRun.objects.select_for_update(skip_locked=True).filter(
                pk=run_id, status=RunStatus.RUNNING, heartbeat_at__lt=stalled_before
            ).first()
            if run is None:
                continue
            seq = _next_seq(run.pk)
            if run.resumes >= settings.SLIPWAY_MAX_RESUMES:
                reason = f"the worker running it stopped answering {run.resumes + 1} times; giving up"
                RunEvent.objects.create(run=run, seq=seq, kind="error", payload={"message": reason, "reason": "worker_lost"})
                run.status = RunStatus.FAILED
                run.outcome = "worker_lost"
                run.reason = reason
                run.finished_at = timezone.now()
                run.lease = ""
                run.save(update_fields=["status", "outcome", "reason", "finished_at", "lease"])
                broadcast.run_changed(run)
                from runs.rounds import finish_round

                transaction.on_commit(lambda run=run: finish_round(run.intent_id, run.round))
                continue
            step = (run.state or {}).get("steps", 0)
            detail = f"worker {run.worker or '?'} stopped answering; requeued to resume from step {step}"
            RunEvent.objects.create(run=run, seq=seq, kind="status", payload={"status": "requeued", "detail": detail, "step": step})
            run.status = RunStatus.QUEUED
            run.resumes += 1
            run.dispatched_at = None
            run.lease = ""
            run.worker = ""
            run.save(update_fields=["status", "resumes", "dispatched_at", "lease", "worker"])
            broadcast.run_changed(run)
            log.warning("run %s: %s", run.pk, detail)
            recovered.append(run.pk)
    unclaimed = AgentRun.objects.filter(
        status=RunStatus.QUEUED, dispatched_at__lt=timezone.now() - UNCLAIMED_AFTER
    ).update(dispatched_at=None, lease="")
    if recovered or unclaimed:
        from runs.dispatch import dispatch_queued_runs

        dispatch_queued_runs()
    return recovered


def reap_sandboxes() -> list[str]:
    """Remove sandboxes whose run is not running under the lease they were started with."""
    from runs.sandboxes import backend_for_worker, instance_id, parse_run_label

    def alive(label: str) -> bool:
        parsed = parse_run_label(label)
        if parsed is None:
            return False
        instance, run_id, lease = parsed
        if instance != instance_id():
            return True  # another installation's sandbox: not ours to judge
        lease = lease.removeprefix("setup-")
        return AgentRun.objects.filter(pk=run_id, status=RunStatus.RUNNING, lease=lease).exists()

    removed = backend_for_worker().reap(alive)
    for sandbox_id in removed:
        log.warning("reaped sandbox %s", sandbox_id)
    return removed
