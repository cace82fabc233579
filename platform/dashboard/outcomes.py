"""Outcomes: what became of the agents' work in the period."""

from __future__ import annotations

from typing import Any

from django.db.models import CharField, Count, F, Func, Q, Value
from django.db.models.functions import Coalesce, Least, Left, NullIf

from dashboard.filters import Filters
from dashboard.sql import Percentiles
from dashboard.tables import Chart, Col, Table
from reviews.models import ChangeRequest, CRStatus
from runs.models import AgentRun, RunStatus

MAX_ROUNDS_SHOWN = 4  # 4 means "4 or more"
REASON_CHARS = 120
TOP_REASONS = 10


def change_requests(f: Filters) -> dict[str, Any]:
    in_period = {
        field: Q(**{f"{field}__gte": f.start, f"{field}__lt": f.end}) for field in ("approved_at", "merged_at", "closed_at")
    }
    merged = in_period["merged_at"] & Q(status=CRStatus.MERGED)
    closed = in_period["closed_at"] & Q(status=CRStatus.CLOSED)
    decided = merged | closed
    figures = ChangeRequest.objects.filter(f.change_requests()).aggregate(
        approved=Count("id", filter=in_period["approved_at"]),
        merged=Count("id", filter=merged),
        closed=Count("id", filter=closed),
        edited=Count("id", filter=merged & Q(edited_by_people=True)),
        decided=Count("id", filter=decided),
        rounds=Percentiles("rounds", (0.5, 0.75), filter=decided),
    )
    rounds = figures.pop("rounds") or [None, None]
    figures.update(rounds_p50=rounds[0], rounds_p75=rounds[1])
    return figures


def funnel(state: dict[str, Any], crs: dict[str, Any]) -> Table:
    ended = state["ended"]
    decided = crs["merged"] + crs["closed"]
    rows = [
        {"outcome": "runs_ended", "label": "Runs ended", "count": ended, "share": None, "of": ""},
        {"outcome": "resolved", "label": "Resolved by tests", "count": state["resolved"], "share": state["resolved"] / ended if ended else None, "of": "of runs ended"},
        {"outcome": "approved", "label": "Approved", "count": crs["approved"], "share": None, "of": ""},
        {"outcome": "merged", "label": "Merged", "count": crs["merged"], "share": crs["merged"] / decided if decided else None, "of": "of changes decided"},
        {"outcome": "closed", "label": "Closed without merge", "count": crs["closed"], "share": crs["closed"] / decided if decided else None, "of": "of changes decided"},
        {"outcome": "edited", "label": "Edited by people before merge", "count": crs["edited"], "share": crs["edited"] / crs["merged"] if crs["merged"] else None, "of": "of merged"},
    ]
    return Table(
        "outcomes",
        "Outcomes in the period",
        [Col("label", "Outcome"), Col("count", "Count", "int"), Col("share", "Share", "pct"), Col("of", "Of")],
        rows,
        definition="outcomes",
    )


def rounds_table(f: Filters) -> Table:
    decided = (Q(status=CRStatus.MERGED) & Q(merged_at__gte=f.start, merged_at__lt=f.end)) | (
        Q(status=CRStatus.CLOSED) & Q(closed_at__gte=f.start, closed_at__lt=f.end)
    )
    counts = dict(
        ChangeRequest.objects.filter(f.change_requests())
        .filter(decided)
        .annotate(r=Least("rounds", Value(MAX_ROUNDS_SHOWN)))
        .values_list("r")
        .annotate(n=Count("id"))
        .order_by()
    )
    total = sum(counts.values())
    rows = [
        {
            "rounds": f"{n}+" if n == MAX_ROUNDS_SHOWN else str(n),
            "changes": counts.get(n, 0),
            "share": counts.get(n, 0) / total if total else None,
        }
        for n in range(1, MAX_ROUNDS_SHOWN + 1)
    ]
    return Table(
        "review_rounds",
        "Review rounds per change",
        [Col("rounds", "Rounds"), Col("changes", "Changes", "int"), Col("share", "Share", "pct")],
        rows,
        definition="rounds",
    )


def failure_reasons(f: Filters) -> Table:
    # The first line of the reason, shortened: reasons carry details (exit codes, paths) after it.
    first_line = Left(Func(F("reason"), Value("\n"), Value(1), function="split_part", output_field=CharField()), REASON_CHARS)
    rows = list(
        AgentRun.objects.filter(f.runs(), status=RunStatus.FAILED, finished_at__gte=f.start, finished_at__lt=f.end)
        .annotate(why=Coalesce(NullIf(first_line, Value("")), Value("(no reason given)"), output_field=CharField()))
        .values("why", "outcome")
        .annotate(runs=Count("id"))
        .order_by("-runs", "why")[:TOP_REASONS]
    )
    return Table(
        "failure_reasons",
        "Most common failure reasons",
        [Col("why", "Reason"), Col("outcome", "Outcome"), Col("runs", "Runs", "int")],
        rows,
        definition="failure-reasons",
        empty="No run failed in this period.",
    )


def outcomes(f: Filters, state: dict[str, Any]) -> dict[str, Any]:
    crs = change_requests(f)
    rounds = rounds_table(f)
    return {
        "funnel": funnel(state, crs),
        "rounds": rounds,
        "rounds_p50": crs["rounds_p50"],
        "rounds_p75": crs["rounds_p75"],
        "reasons": failure_reasons(f),
        "charts": [Chart("chart-rounds", "bar", rounds, "rounds", ["changes"], title="Review rounds")],
    }
