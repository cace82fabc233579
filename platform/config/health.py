"""/healthz: the state of everything the platform needs, as JSON.

The web process never talks to the sandbox daemon: workers check their
sandbox backend and report it with their heartbeat, which is read here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from kombu import Connection

WORKER_SILENCE = timedelta(seconds=60)


def check_database() -> str | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return None


def check_redis() -> str | None:
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    finally:
        client.close()
    return None


def check_broker() -> str | None:
    with Connection(settings.CELERY_BROKER_URL, connect_timeout=2) as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return None


def check_sandbox() -> str | None:
    from runs.models import Worker

    since = timezone.now() - WORKER_SILENCE
    workers = list(Worker.objects.filter(heartbeat_at__gte=since))
    if not workers:
        return "no worker has reported in the last minute: start one with `make run` or `make worker`"
    if any(not w.sandbox_problem for w in workers):
        return None
    return "; ".join(f"{w.hostname}: {w.sandbox_problem}" for w in workers)


CHECKS: dict[str, Callable[[], str | None]] = {
    "database": check_database,
    "redis": check_redis,
    "broker": check_broker,
    "sandbox": check_sandbox,
}


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    report: dict[str, dict[str, str]] = {}
    for name, check in CHECKS.items():
        try:
            problem = check()
        except Exception as exc:  # any failure of a dependency is a finding, not a crash
            problem = f"{type(exc).__name__}: {exc}"
        report[name] = {"status": "ok"} if problem is None else {"status": "error", "detail": problem}
    healthy = all(item["status"] == "ok" for item in report.values())
    return JsonResponse({"status": "ok" if healthy else "error", "checks": report}, status=200 if healthy else 503)
