"""Live workload: the workers and their sandbox slots, the queue, runs by state, durations.

Workers are shared by every team on the installation, so their slot counts are global; the
runs counted against each worker are the team's own.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Count, Min, Q

from dashboard.filters import Filters
from dashboard.sql import Percentiles, Seconds, fetch, sql_of
from dashboard.tables import Col, Table
from runs.models import AgentRun, RunStatus

ACTIVE_RUN = [RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.AWAITING_PLAN]
# A worker beats every few seconds; two minutes of silence means it is gone or wedged.
WORKER_SILENT_AFTER = timedelta(minutes=2)
RECENT = timedelta(hours=24)
MAX_WORKERS = 200
STATE_ORDER = [
    RunStatus.QUEUED,
    RunStatus.RUNNING,
    RunStatus.AWAITING_PLAN,
    RunStatus.FAILED,
    RunStatus.CANCELLED,
    RunStatus.DONE,
]


def active_counts(f: Filters) -> dict[str, int]:
    """Runs queued, running and waiting for a plan approval now: a few index entries, always fresh."""
    counts = dict(
        AgentRun.objects.filter(f.runs(), status__in=ACTIVE_RUN).values_list("status").annotate(n=Count("*")).order_by()
    )
    return {s: counts.get(s, 0) for s in ACTIVE_RUN}


def run_period(f: Filters) -> dict[str, Any]:
    """The period's side of the runs: how they ended, how long they ran and waited, and how many
    were queued and running when the period began (the live cards' earlier values)."""
    t = f.start
    in_period = Q(finished_at__gte=f.start, finished_at__lt=f.end)
    timed = in_period & Q(started_at__isnull=False)
    duration = Seconds("finished_at", "started_at")
    wait = Seconds("started_at", "created_at")
    state = (
        AgentRun.objects.filter(f.runs())
        .filter(Q(status__in=ACTIVE_RUN) | Q(finished_at__gte=t))
        .aggregate(
            done=Count("id", filter=in_period & Q(status=RunStatus.DONE)),
            failed=Count("id", filter=in_period & Q(status=RunStatus.FAILED)),
            cancelled=Count("id", filter=in_period & Q(status=RunStatus.CANCELLED)),
            resolved=Count("id", filter=in_period & Q(resolved=True)),
            ended=Count("id", filter=in_period),
            queued_then=Count(
                "id",
                filter=Q(created_at__lte=t)
                & (Q(started_at__isnull=True) | Q(started_at__gt=t))
                & (Q(finished_at__isnull=True) | Q(finished_at__gt=t)),
            ),
            running_then=Count("id", filter=Q(started_at__lte=t) & (Q(finished_at__isnull=True) | Q(finished_at__gt=t))),
            durations=Percentiles(duration, (0.5, 0.95), filter=timed),
            waits=Percentiles(wait, (0.5, 0.95), filter=timed),
        )
    )
    durations, waits = state.pop("durations") or [None, None], state.pop("waits") or [None, None]
    state.update(duration_p50=durations[0], duration_p95=durations[1], wait_p50=waits[0], wait_p95=waits[1])
    return state


def run_state(f: Filters) -> dict[str, Any]:
    """Both sides at once, computed afresh (exports and tests)."""
    return {**active_counts(f), **run_period(f)}


def states_table(state: dict[str, Any]) -> Table:
    total = sum(state[s] for s in STATE_ORDER) or 1
    rows = [
        {
            "state": s,
            "label": RunStatus(s).label,
            "runs": state[s],
            "share": state[s] / total,
            "when": "now" if s in ACTIVE_RUN else "ended in the period",
        }
        for s in STATE_ORDER
    ]
    return Table(
        "run_states",
        "Runs by state",
        [Col("state", "State", "status"), Col("runs", "Runs", "int"), Col("share", "Share", "pct"), Col("when", "Counted")],
        rows,
        definition="run-states",
    )


def workers_table(f: Filters) -> Table:
    since = f.now - RECENT
    team_runs = AgentRun.objects.filter(f.runs()).filter(Q(status=RunStatus.RUNNING) | Q(finished_at__gte=since))
    inner, params = sql_of(team_runs.order_by().values("worker", "status", "finished_at"))
    # A run records "<host>:<thread>" and a worker "<name>@<host>"; either form is matched.
    rows = fetch(
        f"""
        SELECT w.hostname, w.sandbox_backend, w.sandbox_problem, w.slots, w.active, w.heartbeat_at,
               count(r.worker) FILTER (WHERE r.status = 'running'),
               count(r.worker) FILTER (WHERE r.status = 'done' AND r.finished_at >= %s),
               count(r.worker) FILTER (WHERE r.status = 'failed' AND r.finished_at >= %s)
        FROM runs_worker w
        LEFT JOIN ({inner}) AS r
          ON r.worker = w.hostname
          OR (position('@' in w.hostname) > 0 AND starts_with(r.worker, split_part(w.hostname, '@', 2) || ':'))
        GROUP BY w.id
        ORDER BY w.hostname
        LIMIT {MAX_WORKERS}
        """,
        (since, since, *params),
    )
    silent_before = f.now - WORKER_SILENT_AFTER
    table_rows = []
    for host, backend, problem, slots, active, beat, running, done, failed in rows:
        silent = beat < silent_before
        table_rows.append(
            {
                "worker": host,
                "backend": backend or "—",
                "slots": slots,
                "used": active,
                "free": 0 if silent else max(slots - active, 0),
                "team_running": running,
                "team_done": done,
                "team_failed": failed,
                "heartbeat": beat,
                "state": "silent" if silent else ("problem" if problem else "ok"),
                "problem": problem,
            }
        )
    return Table(
        "workers",
        "Workers",
        [
            Col("worker", "Worker"),
            Col("state", "State", "status"),
            Col("backend", "Sandbox"),
            Col("slots", "Slots", "int"),
            Col("used", "Used", "int"),
            Col("free", "Free", "int"),
            Col("team_running", "Our runs now", "int"),
            Col("team_done", "Done 24 h", "int"),
            Col("team_failed", "Failed 24 h", "int"),
            Col("heartbeat", "Last heartbeat", "datetime"),
        ],
        table_rows,
        definition="workers",
        empty="No worker has ever reported. Start one with `make worker`.",
    )


def queue_table(f: Filters) -> Table:
    rows = list(
        AgentRun.objects.filter(f.runs(), status=RunStatus.QUEUED)
        .values("priority")
        .annotate(waiting=Count("id"), dispatched=Count("id", filter=Q(dispatched_at__isnull=False)), oldest=Min("created_at"))
        .order_by("-priority")
    )
    from intents.models import Priority

    for row in rows:
        row["priority_label"] = Priority(row["priority"]).label if row["priority"] in Priority.values else str(row["priority"])
        row["age"] = (f.now - row["oldest"]).total_seconds()
    return Table(
        "queue",
        "Queue",
        [
            Col("priority_label", "Priority"),
            Col("waiting", "Waiting", "int"),
            Col("dispatched", "Sent to a worker", "int"),
            Col("oldest", "Oldest since", "datetime"),
            Col("age", "Oldest waits", "age"),
        ],
        rows,
        definition="queue",
        empty="Nothing is waiting: every queued run has a worker.",
    )


def workload(f: Filters, state: dict[str, Any]) -> dict[str, Any]:
    workers = workers_table(f)
    return {
        "workers": workers,
        "silent_workers": sum(1 for row in workers.rows if row["state"] == "silent"),
        "slots": {
            "total": sum(row["slots"] for row in workers.rows if row["state"] != "silent"),
            "used": sum(row["used"] for row in workers.rows if row["state"] != "silent"),
        },
        "queue": queue_table(f),
        "states": states_table(state),
        "durations": {
            "duration_p50": state["duration_p50"],
            "duration_p95": state["duration_p95"],
            "wait_p50": state["wait_p50"],
            "wait_p95": state["wait_p95"],
        },
    }
