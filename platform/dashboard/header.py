"""The header cards: a few numbers a team lead reads first, each against the period before.

Live cards (queued, running, awaiting review) are counted from status now; their earlier value is
the same count at the start of the period, reconstructed from timestamps. Flow cards (filed,
merged, merge rate, time to merge) compare the period with the one of equal length before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, DecimalField, Q, Sum
from django.db.models.functions import Coalesce

from dashboard.filters import Filters
from dashboard.sql import Percentiles, Seconds
from intents.models import Intent, Status
from reviews.models import ChangeRequest, CRStatus
from runs.models import AgentRun

BUDGET_WARN = Decimal("0.8")


@dataclass
class Card:
    key: str
    label: str
    value: Any
    previous: Any = None
    kind: str = "int"  # int | pct | seconds | usd
    good: str = "up"  # which way is good news: up | down | none
    live: bool = False
    note: str = ""

    @property
    def change(self) -> float | None:
        if self.value is None or self.previous is None:
            return None
        return float(self.value) - float(self.previous)

    @property
    def change_pct(self) -> float | None:
        if self.change is None or not self.previous:
            return None
        return 100.0 * self.change / float(self.previous)

    @property
    def tone(self) -> str:
        """'up' (good news), 'down' (bad news) or '' for the delta's colour."""
        if not self.change or self.good == "none":
            return ""
        better = self.change > 0 if self.good == "up" else self.change < 0
        return "up" if better else "down"


def month_start(now: datetime) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def budget(f: Filters) -> dict[str, Any]:
    """Spend this calendar month against the team's monthly budget, team-wide (filters do not apply)."""
    start = month_start(f.now)
    prev_start = month_start(start - timedelta(days=1))
    # The same stretch of last month: "this far into the month", for the card's comparison.
    prev_end = min(prev_start + (f.now - start), start)
    money = DecimalField(max_digits=14, decimal_places=6)
    row = AgentRun.objects.filter(team=f.team, created_at__gte=prev_start).aggregate(
        spent=Coalesce(Sum("cost", filter=Q(created_at__gte=start)), Decimal(0), output_field=money),
        spent_prev=Coalesce(Sum("cost", filter=Q(created_at__lt=prev_end)), Decimal(0), output_field=money),
    )
    limit = f.team.monthly_budget
    share = (row["spent"] / limit) if limit else None
    level = ""
    if share is not None:
        level = "over" if share >= 1 else ("warn" if share >= BUDGET_WARN else "")
    return {"spent": row["spent"], "spent_prev": row["spent_prev"], "limit": limit, "share": share, "level": level, "month": start}


def period_figures(f: Filters) -> dict[str, Any]:
    """The cards' figures over the period and the one before, and the live cards' earlier values."""
    cur = Q(created_at__gte=f.start, created_at__lt=f.end)
    prev = Q(created_at__gte=f.prev_start, created_at__lt=f.start)
    merged = Q(status=Status.MERGED, merged_at__gte=f.start, merged_at__lt=f.end)
    merged_prev = Q(status=Status.MERGED, merged_at__gte=f.prev_start, merged_at__lt=f.start)
    to_merge = Seconds("merged_at", "created_at")
    figures = Intent.objects.filter(f.intents(), created_at__gte=f.prev_start, created_at__lt=f.end).aggregate(
        filed=Count("id", filter=cur), filed_prev=Count("id", filter=prev)
    )
    merges = Intent.objects.filter(f.intents(), status=Status.MERGED, merged_at__gte=f.prev_start, merged_at__lt=f.end).aggregate(
        merged=Count("id", filter=merged),
        merged_prev=Count("id", filter=merged_prev),
        ttm=Percentiles(to_merge, (0.5, 0.75), filter=merged),
        ttm_prev=Percentiles(to_merge, (0.5, 0.75), filter=merged_prev),
    )
    ttm, ttm_prev = merges.pop("ttm") or [None, None], merges.pop("ttm_prev") or [None, None]
    figures.update(merges, ttm_p50=ttm[0], ttm_p75=ttm[1], ttm_p50_prev=ttm_prev[0], ttm_p75_prev=ttm_prev[1])
    t = f.start
    figures["crs"] = ChangeRequest.objects.filter(f.change_requests()).aggregate(
        merged=Count("id", filter=Q(status=CRStatus.MERGED, merged_at__gte=f.start, merged_at__lt=f.end)),
        closed=Count("id", filter=Q(status=CRStatus.CLOSED, closed_at__gte=f.start, closed_at__lt=f.end)),
        merged_prev=Count("id", filter=Q(status=CRStatus.MERGED, merged_at__gte=f.prev_start, merged_at__lt=f.start)),
        closed_prev=Count("id", filter=Q(status=CRStatus.CLOSED, closed_at__gte=f.prev_start, closed_at__lt=f.start)),
        awaiting_then=Count(
            "id",
            filter=Q(created_at__lte=t)
            & (Q(first_reviewed_at__isnull=True) | Q(first_reviewed_at__gt=t))
            & (Q(closed_at__isnull=True) | Q(closed_at__gt=t))
            & (Q(merged_at__isnull=True) | Q(merged_at__gt=t)),
        ),
    )
    return figures


def awaiting_review(f: Filters) -> int:
    return Intent.objects.filter(f.intents(), status=Status.IN_REVIEW).count()


def cards(f: Filters, active: dict[str, int], in_review: int, runs: dict[str, Any], figures: dict[str, Any], money: dict[str, Any]) -> list[Card]:
    """The cards from their parts: ``active`` and ``in_review`` now, ``runs`` (workload.run_period) and
    ``figures`` (period_figures) of the period, ``money`` (budget) of the month."""
    crs = figures["crs"]

    def rate(merged_n: int, closed_n: int) -> float | None:
        return merged_n / (merged_n + closed_n) if merged_n + closed_n else None

    return [
        Card("filed", "Intents filed", figures["filed"], figures["filed_prev"], good="none"),
        Card("queued", "Runs queued", active["queued"], runs["queued_then"], good="down", live=True),
        Card("running", "Runs in progress", active["running"], runs["running_then"], good="none", live=True),
        Card("awaiting_review", "Awaiting review", in_review, crs["awaiting_then"], good="down", live=True),
        Card("merged", "Merged", figures["merged"], figures["merged_prev"]),
        Card(
            "merge_rate",
            "Agent merge rate",
            rate(crs["merged"], crs["closed"]),
            rate(crs["merged_prev"], crs["closed_prev"]),
            kind="pct",
            note=f"{crs['merged']} merged, {crs['closed']} closed",
        ),
        Card("ttm_p50", "Filing to merge, median", figures["ttm_p50"], figures["ttm_p50_prev"], kind="seconds", good="down"),
        Card("ttm_p75", "Filing to merge, P75", figures["ttm_p75"], figures["ttm_p75_prev"], kind="seconds", good="down"),
        Card("spend", "Spend this month", money["spent"], money["spent_prev"], kind="usd", good="none"),
    ]


def header(f: Filters) -> list[Card]:
    """Every card computed afresh (exports and tests; the page caches the period's side)."""
    from dashboard.workload import active_counts, run_period

    return cards(f, active_counts(f), awaiting_review(f), run_period(f), period_figures(f), budget(f))
