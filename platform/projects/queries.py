"""Board queries: bounded per column, so a page costs the same at any data size."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import CharField, Count, F, Func, Q, QuerySet, Window
from django.db.models.functions import RowNumber

from intents.models import Intent, Status
from projects.models import Project

BOARD_COLUMNS = [
    Status.DRAFT,
    Status.QUEUED,
    Status.RUNNING,
    Status.IN_REVIEW,
    Status.CHANGES_REQUESTED,
    Status.APPROVED,
    Status.MERGED,
    Status.FAILED,
    Status.CANCELLED,
]
CARDS_PER_COLUMN = 30


@dataclass
class Column:
    status: str
    label: str
    count: int = 0
    cards: list[Intent] = field(default_factory=list)


def board_filters(project: Project, params: Any) -> Q:
    query = Q(project=project)
    label = (params.get("label") or "").strip()
    if label:
        query &= Q(labels__contains=[label])
    author = (params.get("author") or "").strip()
    if author:
        query &= Q(author__username=author)
    return query


def board(project: Project, params: Any) -> list[Column]:
    where = board_filters(project, params)
    counts = dict(Intent.objects.filter(where).values_list("status").annotate(n=Count("id")).order_by())
    ranked: QuerySet[Intent] = (
        Intent.objects.filter(where)
        .select_related("author")
        .annotate(
            rank=Window(
                RowNumber(), partition_by=[F("status")], order_by=[F("priority").desc(), F("status_changed_at").desc()]
            )
        )
        .filter(rank__lte=CARDS_PER_COLUMN)
        .order_by("status", "rank")
    )
    columns = {s: Column(s, Status(s).label, counts.get(s, 0)) for s in BOARD_COLUMNS}
    for intent in ranked:
        columns[intent.status].cards.append(intent)
    return list(columns.values())


def filter_choices(project: Project) -> dict[str, list[str]]:
    labels = list(
        Intent.objects.filter(project=project)
        .annotate(label=Func(F("labels"), function="unnest", output_field=CharField()))
        .values_list("label", flat=True)
        .distinct()
        .order_by("label")[:100]
    )
    authors = list(
        Intent.objects.filter(project=project, author__isnull=False)
        .values_list("author__username", flat=True)
        .distinct()
        .order_by("author__username")[:100]
    )
    return {"labels": labels, "authors": authors}
