"""Dispatch queued runs to the workers, highest priority first, within concurrency limits.

Runs wait in the database, not in the broker: only runs that may start now
are sent to the `agents` queue, so priority and the per-team and per-project
limits hold however many intents are filed. One dispatcher at a time (an
advisory lock); it runs after every queueing, after every run ends, and from beat.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from runs.models import AgentRun, RunStatus, Worker

log = logging.getLogger(__name__)

_LOCK_KEY = 0x534C4950  # "SLIP": pg_advisory_xact_lock key of the dispatcher
WORKER_FRESH = timedelta(seconds=60)
# With no worker heartbeat yet, send this many runs ahead so the first worker has work at once.
SLOTS_WITHOUT_WORKERS = 2


def _in_flight() -> Q:
    return Q(status=RunStatus.RUNNING) | Q(status=RunStatus.QUEUED, dispatched_at__isnull=False)


def new_lease() -> str:
    return secrets.token_hex(8)


def free_slots() -> int:
    fresh = Worker.objects.filter(heartbeat_at__gte=timezone.now() - WORKER_FRESH)
    total = fresh.aggregate(n=Sum("slots"))["n"]
    if total is None:
        total = SLOTS_WITHOUT_WORKERS
    busy = AgentRun.objects.filter(_in_flight()).count()
    return max(total - busy, 0)


def dispatch_queued_runs() -> list[int]:
    """Send every run that may start now; return their ids."""
    from runs.tasks import execute_run

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
        slots = free_slots()
        if slots <= 0:
            return []
        team_busy = dict(
            AgentRun.objects.filter(_in_flight()).values_list("team_id").annotate(n=Count("id")).order_by()
        )
        project_busy = dict(
            AgentRun.objects.filter(_in_flight()).values_list("project_id").annotate(n=Count("id")).order_by()
        )
        candidates = (
            AgentRun.objects.filter(status=RunStatus.QUEUED, dispatched_at__isnull=True, cancel_requested=False)
            .select_related("team", "project")
            .order_by("-priority", "created_at", "id")[:500]
        )
        chosen: list[AgentRun] = []
        for run in candidates:
            if len(chosen) >= slots:
                break
            if team_busy.get(run.team_id, 0) >= run.team.max_concurrent_runs:
                continue
            if project_busy.get(run.project_id, 0) >= run.project.max_concurrent_runs:
                continue
            team_busy[run.team_id] = team_busy.get(run.team_id, 0) + 1
            project_busy[run.project_id] = project_busy.get(run.project_id, 0) + 1
            chosen.append(run)
        now = timezone.now()
        ids = [run.pk for run in chosen]
        for run in chosen:
            lease = new_lease()
            AgentRun.objects.filter(pk=run.pk).update(dispatched_at=now, lease=lease)
            limit = run.project.run_timeout + 600  # setup and the tests come on top of the agent's own budget
            transaction.on_commit(
                lambda run=run, lease=lease, limit=limit: execute_run.apply_async(
                    args=[run.pk, lease], queue="agents", soft_time_limit=limit, time_limit=limit + 120
                )
            )
    if ids:
        log.info("dispatched runs %s", ids)
    return ids


def dispatch_on_commit() -> None:
    transaction.on_commit(dispatch_queued_runs)
