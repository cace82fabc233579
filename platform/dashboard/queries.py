"""Dashboard queries: aggregates in the database, never loops over rows."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q

from accounts.models import Membership
from intents.models import Intent, Status
from projects.models import Project
from runs.models import ModelConfig


def overview(membership: Membership) -> dict[str, Any]:
    """What the overview page needs: next steps for a newcomer, then what is going on."""
    team = membership.team
    projects = list(Project.objects.filter(team=team).order_by("name")[:20])
    has_model = ModelConfig.objects.filter(team=team).exists()
    counts = Intent.objects.filter(team=team).aggregate(
        total=Count("id"),
        running=Count("id", filter=Q(status__in=[Status.QUEUED, Status.RUNNING])),
        in_review=Count("id", filter=Q(status=Status.IN_REVIEW)),
        merged=Count("id", filter=Q(status=Status.MERGED)),
    )
    user = membership.user
    return {
        "team": team,
        "projects": projects,
        "has_model": has_model,
        "counts": counts,
        "my_intents": Intent.objects.filter(team=team, author=user).select_related("project").order_by("-updated_at")[:8],
        "awaiting_review": Intent.objects.filter(team=team, status=Status.IN_REVIEW).select_related("project").order_by("status_changed_at")[:8],
        "recent": Intent.objects.filter(team=team).select_related("project", "author").order_by("-updated_at")[:10],
        "can_configure": membership.can("maintainer"),
    }
