"""Cost: spend and tokens by day and model, per intent and per merged change, the most expensive.

A run's cost and tokens count on the day the run was created. Everything but the cost per
merged change (see flow.cohort_figures, which has the merged intents at hand) and the previous
period's total comes from one statement over the runs of the period.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import CharField, DecimalField, F, Sum, Value
from django.db.models.functions import Coalesce

from dashboard.filters import Filters
from dashboard.sql import fetch, sql_of
from dashboard.tables import Chart, Col, Table
from runs.models import AgentRun

TOP_INTENTS = 10
MONEY = DecimalField(max_digits=16, decimal_places=6)
MODEL_COLORS = ["#2557d6", "#36a3a4", "#d08b1c", "#8b5cc7", "#c9507a", "#5d8f3a", "#6b7280"]
_DAY = timedelta(days=1)

COST_SQL = """
WITH cur AS MATERIALIZED ({inner}),
per_intent AS (
  SELECT cur.intent_id, sum(cur.cost) AS cost, sum(cur.prompt_tokens + cur.completion_tokens) AS tokens, count(*) AS runs
  FROM cur GROUP BY cur.intent_id
),
daily AS (
  SELECT date_trunc('day', cur.created_at) AS day, cur.model_label, sum(cur.cost) AS cost,
         sum(cur.prompt_tokens + cur.completion_tokens) AS tokens
  FROM cur GROUP BY 1, 2
),
top AS (SELECT * FROM per_intent ORDER BY cost DESC, intent_id LIMIT {top})
SELECT
  (SELECT coalesce(sum(cost), 0) FROM cur),
  (SELECT coalesce(sum(prompt_tokens + completion_tokens), 0) FROM cur),
  (SELECT count(*) FROM cur),
  (SELECT count(*) FROM per_intent),
  (SELECT percentile_cont(ARRAY[0.5, 0.75]) WITHIN GROUP (ORDER BY cost) FROM per_intent),
  (SELECT array_agg(day ORDER BY day, model_label) FROM daily),
  (SELECT array_agg(model_label ORDER BY day, model_label) FROM daily),
  (SELECT array_agg(cost ORDER BY day, model_label) FROM daily),
  (SELECT array_agg(tokens ORDER BY day, model_label) FROM daily),
  (SELECT array_agg(ARRAY[t.intent_id, t.runs, t.tokens]::numeric[] ORDER BY t.cost DESC, t.intent_id) FROM top AS t),
  (SELECT array_agg(t.cost ORDER BY t.cost DESC, t.intent_id) FROM top AS t),
  (SELECT array_agg(i.title ORDER BY t.cost DESC, t.intent_id) FROM top AS t JOIN intents_intent AS i ON i.id = t.intent_id),
  (SELECT array_agg(i.status ORDER BY t.cost DESC, t.intent_id) FROM top AS t JOIN intents_intent AS i ON i.id = t.intent_id)
"""


def _figures(f: Filters) -> dict[str, Any]:
    runs = (
        AgentRun.objects.filter(f.runs(), created_at__gte=f.start, created_at__lt=f.end)
        .annotate(model_label=Coalesce(F("model__name"), F("model_name"), Value("unknown"), output_field=CharField()))
        .order_by()
        .values("intent_id", "created_at", "cost", "prompt_tokens", "completion_tokens", "model_label")
    )
    inner, params = sql_of(runs)
    ((spend, tokens, n_runs, n_intents, pcts, days, models, costs, day_tokens, top, top_cost, titles, statuses),) = fetch(
        COST_SQL.format(inner=inner, top=TOP_INTENTS), params
    )
    # The previous period's spend alone: without filters, an index-only sum (run_team_created_cost).
    spend_prev = AgentRun.objects.filter(f.runs(), created_at__gte=f.prev_start, created_at__lt=f.start).aggregate(
        s=Coalesce(Sum("cost"), Decimal(0), output_field=MONEY)
    )["s"]
    return {
        "totals": {"spend": spend, "spend_prev": spend_prev, "tokens": tokens, "runs": n_runs},
        "worked": {"count": n_intents, "total": spend, "p50": (pcts or [None])[0], "p75": (pcts or [None, None])[1]},
        "daily": list(zip(days or [], models or [], costs or [], day_tokens or [], strict=True)),
        "top": [
            {"intent": int(ids[0]), "intent__title": title, "intent__status": status, "runs": int(ids[1]), "tokens": int(ids[2]), "cost": cost}
            for ids, cost, title, status in zip(top or [], top_cost or [], titles or [], statuses or [], strict=True)
        ],
    }


def _days(f: Filters) -> list[datetime]:
    out, day = [], f.start.replace(hour=0, minute=0, second=0, microsecond=0)
    while day < f.end:
        out.append(day)
        day += _DAY
    return out


def by_day_and_model(f: Filters, figures: dict[str, Any] | None = None) -> tuple[Table, Table]:
    daily = (figures or _figures(f))["daily"]
    models = sorted({model for _, model, _, _ in daily})
    keys = [f"model: {m}" for m in models]
    spend = {day: {"day": day.date(), **dict.fromkeys(keys, Decimal(0)), "total": Decimal(0)} for day in _days(f)}
    tokens = {day: {"day": day.date(), **dict.fromkeys(keys, 0), "total": 0} for day in _days(f)}
    for day, model, cost, used in daily:  # one row per day and model: reshaping aggregates, not counting rows
        spend[day][f"model: {model}"] = cost
        spend[day]["total"] += cost
        tokens[day][f"model: {model}"] = used
        tokens[day]["total"] += used
    spend_table = Table(
        "spend_by_day",
        "Spend per day by model",
        [Col("day", "Day", "date"), *[Col(k, k.removeprefix("model: "), "usd") for k in keys], Col("total", "Total", "usd")],
        list(spend.values()),
        definition="spend-by-day",
    )
    tokens_table = Table(
        "tokens_by_day",
        "Tokens per day by model",
        [Col("day", "Day", "date"), *[Col(k, k.removeprefix("model: "), "tokens") for k in keys], Col("total", "Total", "tokens")],
        list(tokens.values()),
        definition="tokens",
    )
    return spend_table, tokens_table


def per_intent_table(worked: dict[str, Any], merged: dict[str, Any]) -> Table:
    return Table(
        "cost_per_intent",
        "Cost per intent and per merged change",
        [Col("label", "Of"), Col("count", "Count", "int"), Col("total", "Total", "usd"), Col("p50", "Median", "usd"), Col("p75", "P75", "usd")],
        [
            {"label": "Intents worked on in the period", **worked},
            {"label": "Changes merged in the period (all their runs)", **merged},
        ],
        definition="cost-per-intent",
    )


def per_intent(f: Filters) -> Table:
    from dashboard.flow import cohort_figures

    return per_intent_table(_figures(f)["worked"], cohort_figures(f)["merged_cost"])


def top_table(rows: list[dict[str, Any]]) -> Table:
    return Table(
        "top_intents",
        "Most expensive intents",
        [
            Col("intent", "Intent", "intent"),
            Col("intent__title", "Title"),
            Col("intent__status", "Status", "status"),
            Col("runs", "Runs", "int"),
            Col("tokens", "Tokens", "tokens"),
            Col("cost", "Cost", "usd"),
        ],
        rows,
        definition="top-intents",
    )


def top_intents(f: Filters) -> Table:
    return top_table(_figures(f)["top"])


def cost(f: Filters, merged_cost: dict[str, Any]) -> dict[str, Any]:
    figures = _figures(f)
    spend, tokens = by_day_and_model(f, figures)
    colors = {col.key: MODEL_COLORS[i % len(MODEL_COLORS)] for i, col in enumerate(spend.columns[1:-1])}
    return {
        "spend_by_day": spend,
        "tokens_by_day": tokens,
        "per_intent": per_intent_table(figures["worked"], merged_cost),
        "totals": figures["totals"],
        "top": top_table(figures["top"]),
        "charts": [
            Chart("chart-spend", "bar", spend, "day", [c.key for c in spend.columns[1:-1]], unit="usd", stacked=True, colors=colors, title="Spend per day"),
            Chart("chart-tokens", "bar", tokens, "day", [c.key for c in tokens.columns[1:-1]], unit="tokens", stacked=True, colors=colors, title="Tokens per day"),
        ],
    }
