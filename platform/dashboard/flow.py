"""Flow from intent to merge, split into stages, over the intents merged in the period.

Stages of one intent: queue wait (filed to the first run's start), agent run (to the change
request opening), pickup (to the first review), review (to approval), merge wait (to merge).
Intents still open are listed apart and never enter a median: a median over unfinished work
would improve whenever work got stuck.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Trunc

from dashboard.filters import Filters
from dashboard.sql import Seconds, fetch, sql_of
from dashboard.tables import Chart, Col, Table
from intents.models import Intent, Status
from runs.models import AgentRun

STAGES = [
    ("queue", "Queue wait", "started", "created_at"),
    ("run", "Agent run", "opened", "started"),
    ("pickup", "Pickup", "reviewed", "opened"),
    ("review", "Review", "approved", "reviewed"),
    ("merge", "Merge wait", "merged_at", "approved"),
]
TOTAL = ("total", "Filing to merge", "merged_at", "created_at")
ENDED = [Status.MERGED, Status.CANCELLED, Status.FAILED]
UNFINISHED = [s for s in Status.values if s not in ENDED]
SCATTER_POINTS = 1500
ROLLING_DAYS = 7
STAGE_COLORS = {
    "queue": "var(--st-queued)",
    "run": "var(--st-running)",
    "pickup": "var(--st-waiting)",
    "review": "var(--st-review)",
    "merge": "var(--st-approved)",
}


def merged_intents(f: Filters, since: datetime | None = None) -> QuerySet[Any]:
    """The cohort: intents merged in the period, with the timestamps that bound each stage."""
    first_start = (
        AgentRun.objects.filter(intent=OuterRef("pk"), started_at__isnull=False).order_by("started_at").values("started_at")[:1]
    )
    return (
        Intent.objects.filter(f.intents(), status=Status.MERGED, merged_at__gte=since or f.start, merged_at__lt=f.end)
        .annotate(
            started=Subquery(first_start),
            opened=F("change_request__created_at"),
            reviewed=F("change_request__first_reviewed_at"),
            approved=F("change_request__approved_at"),
        )
        .order_by()
        .values("id", "title", "created_at", "started", "opened", "reviewed", "approved", "merged_at")
    )


def _epoch(end: str, start: str, alias: str = "t") -> str:
    return f"EXTRACT(EPOCH FROM ({alias}.{end} - {alias}.{start}))"


def buckets(f: Filters) -> list[datetime]:
    """The starts of the day or week buckets that cover the period, as date_trunc gives them."""
    first = f.start.replace(hour=0, minute=0, second=0, microsecond=0)
    step = timedelta(days=1)
    if f.bucket == "week":
        first -= timedelta(days=first.weekday())
        step = timedelta(days=7)
    out = []
    while first < f.end:
        out.append(first)
        first += step
    return out


def cohort_figures(f: Filters) -> dict[str, Any]:
    """Stages, stage medians over time and the rolling median, in one statement.

    The cohort (with each intent's first run start, a subquery per intent) is computed once,
    materialised, and read three times; the rolling window gives each intent to the seven days
    whose window holds it, so a day's median is one GROUP BY, not a join per day.
    """
    inner, params = sql_of(merged_intents(f, since=f.start - timedelta(days=ROLLING_DAYS - 1)))
    every = [*STAGES, TOTAL]
    stage_parts = ", ".join(
        f"count({_epoch(e, s)}), percentile_cont(ARRAY[0.5, 0.75]) WITHIN GROUP (ORDER BY {_epoch(e, s)})"
        for _, _, e, s in every
    )
    medians = ", ".join(f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {_epoch(e, s)}) AS m_{key}" for key, _, e, s in every)
    over_time = ", ".join(["array_agg(b.bucket ORDER BY b.bucket)", "array_agg(b.n ORDER BY b.bucket)"] + [f"array_agg(b.m_{key} ORDER BY b.bucket)" for key, *_ in every])
    rows = fetch(
        f"""
        WITH cohort AS MATERIALIZED ({inner}),
        merged AS (SELECT * FROM cohort AS t WHERE t.merged_at >= %s),
        stages AS (SELECT count(*) AS n, {stage_parts} FROM merged AS t),
        by_bucket AS (SELECT date_trunc(%s, t.merged_at) AS bucket, count(*) AS n, {medians} FROM merged AS t GROUP BY 1),
        over_time AS (SELECT {over_time} FROM by_bucket AS b),
        windows AS (
          SELECT date_trunc('day', t.merged_at) + k * interval '1 day' AS day, {_epoch("merged_at", "created_at")} AS total
          FROM cohort AS t CROSS JOIN generate_series(0, {ROLLING_DAYS - 1}) AS k
        ),
        rolling AS (
          SELECT array_agg(r.day ORDER BY r.day), array_agg(r.n ORDER BY r.day), array_agg(r.median ORDER BY r.day)
          FROM (SELECT w.day, count(*) AS n, percentile_cont(0.5) WITHIN GROUP (ORDER BY w.total) AS median
                FROM windows AS w WHERE w.day >= date_trunc('day', %s::timestamptz) AND w.day <= %s GROUP BY w.day) AS r
        ),
        merged_cost AS (
          SELECT r.intent_id, sum(r.cost) AS cost FROM runs_agentrun AS r
          WHERE r.intent_id IN (SELECT id FROM merged){" AND r.model_id = %s" if f.model else ""}
          GROUP BY r.intent_id
        ),
        cost AS (
          SELECT count(*), coalesce(sum(cost), 0), percentile_cont(ARRAY[0.5, 0.75]) WITHIN GROUP (ORDER BY cost) FROM merged_cost
        )
        SELECT * FROM stages, over_time, rolling, cost
        """,
        (*params, f.start, f.bucket, f.start, f.end, *([f.model] if f.model else [])),
    )
    row = rows[0]
    n, total, pcts = row[-3:]
    return {
        "stages": _stages_table(row[: 1 + 2 * len(every)]),
        "over_time": _over_time_table(f, row[1 + 2 * len(every) : 3 + 3 * len(every)]),
        "rolling": _rolling_table(f, row[3 + 3 * len(every) : 6 + 3 * len(every)]),
        # The runs of an intent share its team, project and intent filters: only the model narrows them.
        "merged_cost": {"count": n, "total": total, "p50": (pcts or [None])[0], "p75": (pcts or [None, None])[1]},
    }


def _stages_table(row: tuple[Any, ...]) -> Table:
    rows = []
    for i, (key, label, _, _) in enumerate([*STAGES, TOTAL]):
        measured, pcts = row[1 + 2 * i], row[2 + 2 * i] or [None, None]
        rows.append({"stage": key, "label": label, "intents": measured, "p50": pcts[0], "p75": pcts[1]})
    return Table(
        "flow_stages",
        "Stages of the intents merged in the period",
        [Col("label", "Stage"), Col("intents", "Intents", "int"), Col("p50", "Median", "seconds"), Col("p75", "P75", "seconds")],
        rows,
        definition="stages",
        note=f"{row[0]} intents merged in the period.",
    )


def _over_time_table(f: Filters, arrays: tuple[Any, ...]) -> Table:
    every = [*STAGES, TOTAL]
    found: dict[datetime, tuple[Any, ...]] = {}
    if arrays[0]:
        for i, start in enumerate(arrays[0]):
            found[start] = tuple(column[i] for column in arrays[1:])
    rows = []
    for start in buckets(f):  # every bucket of the period, the empty ones too
        values = found.get(start)
        row: dict[str, Any] = {"bucket": start.date(), "merged": values[0] if values else 0}
        for i, (key, *_) in enumerate(every):
            row[key] = values[1 + i] if values else None
        rows.append(row)
    return Table(
        "flow_over_time",
        f"Stage medians by {f.bucket} of merge",
        [Col("bucket", "Day" if f.bucket == "day" else "Week of", "date"), Col("merged", "Merged", "int")]
        + [Col(key, label, "seconds") for key, label, *_ in every],
        rows,
        definition="stages-over-time",
    )


def _rolling_table(f: Filters, arrays: tuple[Any, ...]) -> Table:
    days, counts, medians = arrays
    found = dict(zip(days or [], zip(counts or [], medians or [], strict=True), strict=True))
    rows = []
    day = f.start.replace(hour=0, minute=0, second=0, microsecond=0)
    while day <= f.end:
        n, median = found.get(day, (0, None))
        rows.append({"day": day, "intents": n, "median": median})
        day += timedelta(days=1)
    return Table(
        "flow_rolling_median",
        f"Filing to merge, rolling {ROLLING_DAYS}-day median",
        [Col("day", "Day", "date"), Col("intents", "Intents in window", "int"), Col("median", "Median", "seconds")],
        rows,
        definition="rolling-median",
    )


def stages_table(f: Filters) -> Table:
    return cohort_figures(f)["stages"]


def stages_over_time(f: Filters) -> Table:
    return cohort_figures(f)["over_time"]


def rolling_median(f: Filters) -> Table:
    return cohort_figures(f)["rolling"]


def scatter(f: Filters, limit: int | None = SCATTER_POINTS) -> Table:
    """One point per merged intent, the most recent ``limit`` of them (all for the CSV)."""
    cohort = (
        Intent.objects.filter(f.intents(), status=Status.MERGED, merged_at__gte=f.start, merged_at__lt=f.end)
        .annotate(total=Seconds("merged_at", "created_at"))
        .order_by("-merged_at", "-id")
        .values("merged_at", "title", "total", intent=F("id"))
    )
    rows = list(cohort[:limit] if limit is not None else cohort)
    rows.reverse()
    return Table(
        "flow_intents",
        "Intents merged in the period",
        [Col("merged_at", "Merged", "datetime"), Col("intent", "Intent", "intent"), Col("title", "Title"), Col("total", "Filing to merge", "seconds")],
        rows,
        definition="scatter",
    )


def unfinished(f: Filters, limit: int = 10) -> dict[str, Any]:
    open_filed = Intent.objects.filter(f.intents(), status__in=UNFINISHED, created_at__gte=f.start, created_at__lt=f.end)
    counts = dict(open_filed.values_list("status").annotate(n=Count("id")).order_by())
    by_status = Table(
        "unfinished_by_status",
        "Unfinished intents filed in the period, by status",
        [Col("status", "Status", "status"), Col("intents", "Intents", "int")],
        [{"status": s, "intents": counts[s]} for s in UNFINISHED if counts.get(s)],
        definition="unfinished",
        empty="Every intent filed in the period has finished.",
    )
    oldest = Table(
        "unfinished_oldest",
        "Oldest unfinished intents",
        [Col("intent", "Intent", "intent"), Col("title", "Title"), Col("status", "Status", "status"), Col("created_at", "Filed", "datetime"), Col("age", "Open for", "age")],
        [
            {**row, "age": (f.now - row["created_at"]).total_seconds()}
            for row in open_filed.order_by("created_at").values("title", "status", "created_at", intent=F("id"))[:limit]
        ],
        definition="unfinished",
        empty="Every intent filed in the period has finished.",
    )
    return {"count": sum(counts.values()), "by_status": by_status, "oldest": oldest}


def wip_over_time(f: Filters) -> Table:
    """Intents filed and not yet ended at the end of each day: a count at the start, then daily flows."""
    intents = Intent.objects.filter(f.intents())
    at_start = intents.filter(
        Q(created_at__lt=f.start) & (Q(status__in=UNFINISHED) | Q(status__in=ENDED, status_changed_at__gte=f.start))
    ).count()
    day = Trunc("created_at", "day")
    filed = dict(
        intents.filter(created_at__gte=f.start, created_at__lt=f.end).annotate(day=day).values_list("day").annotate(n=Count("*")).order_by()
    )
    ended = dict(
        intents.filter(status__in=ENDED, status_changed_at__gte=f.start, status_changed_at__lt=f.end)
        .annotate(day=Trunc("status_changed_at", "day"))
        .values_list("day")
        .annotate(n=Count("*"))
        .order_by()
    )
    rows, wip = [], at_start
    first = f.start.replace(hour=0, minute=0, second=0, microsecond=0)
    while first < f.end:
        wip += filed.get(first, 0) - ended.get(first, 0)
        rows.append({"day": first.date(), "filed": filed.get(first, 0), "ended": ended.get(first, 0), "wip": wip})
        first += timedelta(days=1)
    return Table(
        "wip",
        "Work in progress at the end of each day",
        [Col("day", "Day", "date"), Col("filed", "Filed", "int"), Col("ended", "Ended", "int"), Col("wip", "In progress", "int")],
        rows,
        definition="wip",
        note=f"{at_start} in progress when the period began.",
    )


def flow(f: Filters) -> dict[str, Any]:
    figures = cohort_figures(f)
    stages, over_time, rolling = figures["stages"], figures["over_time"], figures["rolling"]
    points = scatter(f)
    wip = wip_over_time(f)
    return {
        "merged_cost": figures["merged_cost"],
        "stages": stages,
        "over_time": over_time,
        "scatter": points,
        "rolling": rolling,
        "unfinished": unfinished(f),
        "wip": wip,
        "charts": [
            Chart("chart-stages", "bar", over_time, "bucket", [k for k, *_ in STAGES], unit="hours", stacked=True, colors=STAGE_COLORS, title="Stage medians"),
            Chart("chart-scatter", "scatter", points, "merged_at", ["total"], unit="hours", line="median", line_table=rolling, line_x="day", title="Filing to merge"),
            Chart("chart-wip", "line", wip, "day", ["wip"], title="Work in progress"),
        ],
    }
