"""The dashboard assembled from its sections, and the registry of tables that export as CSV.

Each section costs a fixed number of queries whatever the amount of data: aggregates in
PostgreSQL, bounded lists, and reshaping in Python of aggregated rows only.

Two speeds. What is true now (runs queued, running and waiting for a plan, changes awaiting
review, the workers and the queue, spend this month) and the per-person lists are read on every
request: a few index entries each. Everything measured over the period (the cards' period
figures, runs ended, durations, flow, outcomes, cost, rankings) reads every intent and run of
the period, so it is computed at most once a minute for a team and a set of filters and kept in
the cache (SLIPWAY_DASHBOARD_CACHE_SECONDS, 0 turns it off); its CSV exports read the same copy,
so a download matches the page it came from.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache

from accounts.models import Membership
from dashboard import cost, flow, outcomes, people
from dashboard.filters import Filters
from dashboard.header import awaiting_review, budget, cards, header, period_figures
from dashboard.tables import Col, Table
from dashboard.workload import (
    active_counts,
    queue_table,
    run_period,
    run_state,
    states_table,
    workers_table,
    workload,
)

CACHE_VERSION = 1  # bump when the shape of the cached sections changes


def cards_table(cards: list[Any]) -> Table:
    return Table(
        "cards",
        "Summary",
        [Col("key", "Figure"), Col("label", "Label"), Col("value", "Value", "float"), Col("previous", "Previous", "float")],
        [{"key": c.key, "label": c.label, "value": c.value, "previous": c.previous} for c in cards],
        definition="period",
    )


def live(f: Filters) -> dict[str, Any]:
    """The part of the page that refreshes on its own: the cards and the workload."""
    active = active_counts(f)
    period = cached("period", f, lambda: {"runs": run_period(f), "figures": period_figures(f), "computed_at": f.now})
    money = budget(f)
    state = {**active, **period["runs"]}
    return {
        "header": {
            "cards": cards(f, active, awaiting_review(f), period["runs"], period["figures"], money),
            "budget": money,
            "since": f.start,
        },
        "workload": workload(f, state),
        "state": state,
        "period_as_of": period["computed_at"],
    }


def compute_sections(f: Filters, state: dict[str, Any]) -> dict[str, Any]:
    flows = flow.flow(f)
    sections: dict[str, Any] = {
        "computed_at": f.now,
        "flow": flows,
        "outcomes": outcomes.outcomes(f, state),
        "cost": cost.cost(f, flows["merged_cost"]),
        "rankings": [people.requester_ranking(f), people.reviewer_ranking(f)],
    }
    sections["tables"] = {t.name: t for t in _tables_in(sections)}
    return sections


def _tables_in(value: Any) -> list[Table]:
    if isinstance(value, Table):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _tables_in(v)]
    if isinstance(value, list):
        return [t for v in value for t in _tables_in(v)]
    return []


def cache_seconds() -> int:
    return int(settings.SLIPWAY_DASHBOARD_CACHE_SECONDS)


def cache_key(f: Filters) -> str:
    # The team's creation time too: a team id reused by a fresh database never reads old figures.
    return f"dashboard:v{CACHE_VERSION}:{f.team.pk}:{int(f.team.created_at.timestamp())}:{f.querystring()}"


def cached(kind: str, f: Filters, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``compute()``, or its copy from the cache when one younger than the cache's lifetime exists."""
    ttl = cache_seconds()
    key = f"{cache_key(f)}:{kind}"
    if ttl > 0:
        found = cache.get(key)
        if found is not None:
            return found  # type: ignore[no-any-return]
    value = compute()
    if ttl > 0:
        cache.set(key, value, ttl)
    return value


def sections(f: Filters, state: dict[str, Any] | None = None) -> dict[str, Any]:
    """The period's analysis: flow, outcomes, cost and rankings."""
    return cached("sections", f, lambda: compute_sections(f, state if state is not None else run_state(f)))


def full(f: Filters, membership: Membership) -> dict[str, Any]:
    context = live(f)
    context.update(sections(f, context["state"]))
    context["people"] = {"mine": people.my_intents(f, membership.user), "reviews": people.my_reviews(f, membership.user)}
    return context


Export = Callable[[Filters, Membership], Table]
MAINTAINERS_ONLY = frozenset({"ranking_requesters", "ranking_reviewers"})

# Tables computed afresh for their CSV: live ones, per-person ones, and the full list of points.
FRESH: dict[str, Export] = {
    "cards": lambda f, m: cards_table(header(f)),
    "workers": lambda f, m: workers_table(f),
    "queue": lambda f, m: queue_table(f),
    "run_states": lambda f, m: states_table(run_state(f)),
    "flow_intents": lambda f, m: flow.scatter(f, limit=None),
    "my_intents": lambda f, m: people.my_intents(f, m.user),
    "my_reviews": lambda f, m: people.my_reviews(f, m.user),
}
# Tables of the period's analysis: the CSV is the very table the page shows.
FROM_SECTIONS = frozenset(
    {
        "flow_stages", "flow_over_time", "flow_rolling_median", "unfinished_by_status", "unfinished_oldest", "wip",
        "outcomes", "review_rounds", "failure_reasons", "spend_by_day", "tokens_by_day", "cost_per_intent",
        "top_intents", "ranking_requesters", "ranking_reviewers",
    }
)
EXPORTS = frozenset(FRESH) | FROM_SECTIONS


def export_table(name: str, f: Filters, membership: Membership) -> Table:
    if name in FRESH:
        return FRESH[name](f, membership)
    return sections(f)["tables"][name]
