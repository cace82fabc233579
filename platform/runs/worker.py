"""The agents worker's heartbeat: a row per worker, written by the worker itself.

The dashboard's worker table, /healthz and the dispatcher's slot count read it.
Only workers that consume the `agents` queue report.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from celery.signals import worker_ready, worker_shutdown
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

log = logging.getLogger(__name__)
_stop = threading.Event()


def sandbox_problem() -> tuple[str, str]:
    """(backend name, problem or '') for this host's configured sandbox backend."""
    from runs.sandboxes import backend_for_worker

    try:
        backend = backend_for_worker()
    except Exception as exc:  # a missing backend is exactly what we report
        return "", str(exc)
    return backend.name, backend.check() or ""


def beat_once(hostname: str, slots: int) -> None:
    from runs.models import AgentRun, RunStatus, Worker

    close_old_connections()
    name, problem = sandbox_problem()
    active = AgentRun.objects.filter(worker=hostname, status=RunStatus.RUNNING).count()
    Worker.objects.update_or_create(
        hostname=hostname,
        defaults={
            "slots": slots,
            "active": active,
            "sandbox_backend": name,
            "sandbox_problem": problem,
            "heartbeat_at": timezone.now(),
        },
    )


def _loop(hostname: str, slots: int) -> None:
    interval = settings.SLIPWAY_HEARTBEAT_SECONDS
    while not _stop.is_set():
        try:
            beat_once(hostname, slots)
        except Exception:
            log.warning("worker heartbeat failed", exc_info=True)
        _stop.wait(interval)


@worker_ready.connect
def _start(sender: Any = None, **_: Any) -> None:
    consumer = sender  # celery sends worker_ready from the consumer
    queues = {q.name for q in consumer.task_consumer.queues} if consumer is not None and consumer.task_consumer else set()
    if "agents" not in queues:
        return
    hostname = consumer.hostname
    slots = int(getattr(consumer.controller, "concurrency", 0) or consumer.app.conf.worker_concurrency or 1)
    name, problem = sandbox_problem()
    if problem:
        log.error("sandbox backend unusable: %s", problem)
    else:
        log.info("sandbox backend: %s", name)
    threading.Thread(target=_loop, args=(hostname, slots), name="slipway-heartbeat", daemon=True).start()


@worker_shutdown.connect
def _stop_heartbeat(**_: Any) -> None:
    _stop.set()
