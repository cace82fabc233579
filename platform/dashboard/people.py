"""Per person: my intents and the reviews waiting for me; rankings, for maintainers only."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, F, Q

from dashboard.filters import Filters
from dashboard.sql import Percentile, Seconds
from dashboard.tables import Col, Table
from intents.models import Intent, Status
from reviews.models import ChangeRequest, CRStatus, Decision, Review

MINE = 8
RANKED = 15


def my_intents(f: Filters, user: Any) -> Table:
    rows = list(
        Intent.objects.filter(team=f.team, author=user)
        .exclude(status__in=[Status.MERGED, Status.CANCELLED])
        .order_by("-status_changed_at")
        .values("title", "status", "status_changed_at", intent=F("id"))[:MINE]
    )
    return Table(
        "my_intents",
        "My open intents",
        [Col("intent", "Intent", "intent"), Col("title", "Title"), Col("status", "Status", "status"), Col("status_changed_at", "Since", "datetime")],
        rows,
        definition="my-intents",
        empty="None of your intents is open.",
    )


def my_reviews(f: Filters, user: Any) -> Table:
    """Changes waiting for a reviewer that someone else asked for: there are no assigned reviewers."""
    rows = list(
        ChangeRequest.objects.filter(team=f.team, status=CRStatus.OPEN, intent__status=Status.IN_REVIEW)
        .exclude(intent__author=user)
        .order_by("updated_at")
        .values("intent_id", "rounds", "updated_at", title=F("intent__title"), author=F("intent__author__username"))[:MINE]
    )
    return Table(
        "my_reviews",
        "Reviews waiting for me",
        [Col("intent_id", "Intent", "intent"), Col("title", "Title"), Col("author", "Requested by"), Col("rounds", "Round", "int"), Col("updated_at", "Waiting since", "datetime")],
        rows,
        definition="my-reviews",
        empty="No change is waiting for your review.",
    )


def requester_ranking(f: Filters) -> Table:
    filed = Q(created_at__gte=f.start, created_at__lt=f.end)
    merged = Q(status=Status.MERGED, merged_at__gte=f.start, merged_at__lt=f.end)
    rows = list(
        Intent.objects.filter(f.intents(), author__isnull=False)
        .filter(Q(created_at__gte=f.start) | Q(merged_at__gte=f.start))
        .values(person=F("author__username"))
        .annotate(
            filed=Count("id", filter=filed),
            merged=Count("id", filter=merged),
            ttm_p50=Percentile(Seconds("merged_at", "created_at"), 0.5, filter=merged),
        )
        .filter(Q(filed__gt=0) | Q(merged__gt=0))
        .order_by("-merged", "-filed", "person")[:RANKED]
    )
    return Table(
        "ranking_requesters",
        "Requesters",
        [Col("person", "Person"), Col("filed", "Filed", "int"), Col("merged", "Merged", "int"), Col("ttm_p50", "Filing to merge, median", "seconds")],
        rows,
        definition="rankings",
    )


def reviewer_ranking(f: Filters) -> Table:
    changes = ChangeRequest.objects.filter(f.change_requests()).values("id")
    rows = list(
        Review.objects.filter(change_request__in=changes, created_at__gte=f.start, created_at__lt=f.end, reviewer__isnull=False)
        .values(person=F("reviewer__username"))
        .annotate(
            reviews=Count("id"),
            approvals=Count("id", filter=Q(decision=Decision.APPROVE)),
            changes=Count("id", filter=Q(decision=Decision.REQUEST_CHANGES)),
            closed=Count("id", filter=Q(decision=Decision.CLOSE)),
        )
        .order_by("-reviews", "person")[:RANKED]
    )
    return Table(
        "ranking_reviewers",
        "Reviewers",
        [Col("person", "Person"), Col("reviews", "Reviews", "int"), Col("approvals", "Approved", "int"), Col("changes", "Changes requested", "int"), Col("closed", "Closed", "int")],
        rows,
        definition="rankings",
    )
