"""/metrics: Prometheus text for operators, across all teams.

Read from the database at scrape time (a custom collector), so every web process answers the
same and nothing is kept in memory between scrapes. Access: a bearer token from
SLIPWAY_METRICS_TOKEN, or a signed-in staff user; the figures span every team.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, F, FloatField, Min, Sum
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.http import HttpRequest
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from dashboard.sql import Percentiles, Seconds
from dashboard.workload import WORKER_SILENT_AFTER
from runs.models import AgentRun, RunEvent, RunStatus, Worker

LATENCY_WINDOW = timedelta(hours=1)


def metrics_token() -> str:
    return settings.SLIPWAY_METRICS_TOKEN


def allowed(request: HttpRequest) -> bool:
    token = metrics_token()
    given = request.headers.get("Authorization", "")
    if token and given.startswith("Bearer ") and hmac.compare_digest(given[7:].strip().encode(), token.encode()):
        return True
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and user.is_staff)


class SlipwayCollector:
    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        yield from self._runs()
        yield from self._queue(now)
        yield from self._workers(now)
        yield from self._models(now)

    def _runs(self) -> Iterator[Metric]:
        runs = GaugeMetricFamily("slipway_runs", "Agent runs by team and state, now.", labels=["team", "state"])
        for team, state, n in AgentRun.objects.values_list("team__slug", "status").annotate(n=Count("*")).order_by("team__slug", "status"):
            runs.add_metric([team, state], n)
        yield runs

    def _queue(self, now: Any) -> Iterator[Metric]:
        depth = GaugeMetricFamily("slipway_queue_depth", "Runs waiting to start, by team and priority.", labels=["team", "priority"])
        oldest = GaugeMetricFamily("slipway_queue_oldest_seconds", "Age of the oldest waiting run, by team.", labels=["team"])
        ages: dict[str, float] = {}
        rows = (
            AgentRun.objects.filter(status=RunStatus.QUEUED)
            .values_list("team__slug", "priority")
            .annotate(n=Count("id"), first=Min("created_at"))
            .order_by("team__slug", "priority")
        )
        for team, priority, n, first in rows:
            depth.add_metric([team, str(priority)], n)
            ages[team] = max(ages.get(team, 0.0), (now - first).total_seconds())
        for team, age in ages.items():
            oldest.add_metric([team], age)
        yield depth
        yield oldest

    def _workers(self, now: Any) -> Iterator[Metric]:
        up = GaugeMetricFamily("slipway_worker_up", "1 when the worker reported in the last two minutes.", labels=["worker"])
        slots = GaugeMetricFamily("slipway_worker_slots", "Sandbox slots of a worker, by state.", labels=["worker", "state"])
        age = GaugeMetricFamily("slipway_worker_heartbeat_age_seconds", "Seconds since the worker's last heartbeat.", labels=["worker"])
        total = GaugeMetricFamily("slipway_sandbox_slots", "Sandbox slots of the live workers, by state.", labels=["state"])
        sums = {"total": 0, "used": 0, "free": 0}
        for worker in Worker.objects.order_by("hostname")[:500]:
            alive = now - worker.heartbeat_at < WORKER_SILENT_AFTER
            free = max(worker.slots - worker.active, 0) if alive else 0
            up.add_metric([worker.hostname], 1 if alive else 0)
            slots.add_metric([worker.hostname, "used"], worker.active)
            slots.add_metric([worker.hostname, "free"], free)
            age.add_metric([worker.hostname], (now - worker.heartbeat_at).total_seconds())
            if alive:
                sums["total"] += worker.slots
                sums["used"] += worker.active
                sums["free"] += free
        for state, n in sums.items():
            total.add_metric([state], n)
        yield from (up, slots, age, total)

    def _models(self, now: Any) -> Iterator[Metric]:
        tokens = CounterMetricFamily("slipway_model_tokens", "Tokens used by agent runs, by team, model and kind.", labels=["team", "model", "kind"])
        cost = CounterMetricFamily("slipway_model_cost_usd", "Model cost of agent runs in USD, by team and model.", labels=["team", "model"])
        rows = (
            AgentRun.objects.values_list("team__slug", "model_name")
            .annotate(p=Sum("prompt_tokens"), c=Sum("completion_tokens"), usd=Sum("cost"))
            .order_by("team__slug", "model_name")
        )
        for team, model, prompt, completion, usd in rows:
            tokens.add_metric([team, model, "prompt"], prompt or 0)
            tokens.add_metric([team, model, "completion"], completion or 0)
            cost.add_metric([team, model], float(usd or 0))
        yield tokens
        yield cost

        # Each model call's own time is in its usage event (retries and their waits included).
        calls = GaugeMetricFamily(
            "slipway_model_call_seconds",
            "Seconds per model call (retries included) in runs ended in the last hour, by model.",
            labels=["model", "quantile"],
        )
        call_seconds = Cast(KeyTextTransform("seconds", "payload"), FloatField())
        per_model = (
            RunEvent.objects.filter(
                kind="usage", payload__has_key="seconds", run__finished_at__gte=now - LATENCY_WINDOW
            )
            .values_list("run__model_name")
            .annotate(q=Percentiles(call_seconds, (0.5, 0.95)))
            .order_by("run__model_name")
        )
        for model, quantiles in per_model:
            for q, value in zip(("0.5", "0.95"), quantiles, strict=True):
                calls.add_metric([model, q], value)
        yield calls

        latency = GaugeMetricFamily(
            "slipway_model_step_seconds",
            "Seconds per agent step (a model call and its tool call) of runs ended in the last hour, by model.",
            labels=["model", "quantile"],
        )
        durations = GaugeMetricFamily(
            "slipway_run_duration_seconds", "Duration of runs ended in the last hour, by model.", labels=["model", "quantile"]
        )
        duration = Seconds("finished_at", "started_at")
        recent = AgentRun.objects.filter(finished_at__gte=now - LATENCY_WINDOW, started_at__isnull=False, steps__gt=0)
        timing = (
            recent.values_list("model_name")
            .annotate(
                step=Percentiles(duration / F("steps"), (0.5, 0.95)),
                run=Percentiles(duration, (0.5, 0.95)),
            )
            .order_by("model_name")
        )
        for model, step, run in timing:
            for q, step_q, run_q in zip(("0.5", "0.95"), step, run, strict=True):
                latency.add_metric([model, q], step_q)
                durations.add_metric([model, q], run_q)
        yield latency
        yield durations


def render() -> tuple[bytes, str]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SlipwayCollector())  # type: ignore[arg-type]
    return generate_latest(registry), CONTENT_TYPE_LATEST

