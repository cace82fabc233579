"""Live fragments of the board and the dashboard: rendered from the database on each change.

They are state, not a log: a change (or a reconnect) sends what the page shows now.

The dashboard's hook: ``register(render)`` adds a renderer ``render(team_id) -> str`` whose
HTML (elements marked ``hx-swap-oob``) goes out with the counters after each ``team.changed``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db.models import Count, Q
from django.template.loader import render_to_string
from django.utils import timezone

from runs.models import AgentRun, RunStatus

TeamRenderer = Callable[[int], str]
_renderers: list[TeamRenderer] = []


def register(render: TeamRenderer) -> TeamRenderer:
    """Add a dashboard fragment to every team.changed frame (usable as a decorator)."""
    if render not in _renderers:
        _renderers.append(render)
    return render


def board_columns(project_id: int, params: dict[str, str]) -> dict[str, str]:
    """Each column's inner HTML, as the board page renders it, with the page's filters."""
    from projects.models import Project
    from projects.queries import board

    project = Project.objects.get(pk=project_id)
    return {
        col.status: render_to_string("projects/board.html#column", {"col": col, "project": project})
        for col in board(project, params)
    }


def team_counts(team_id: int) -> dict[str, int]:
    """Runs by state, and today's finished ones: what changes as runs start and end."""
    since = timezone.now() - timedelta(hours=24)
    # Only the rows that can count: runs in flight (the (team, status) index) or finished in the
    # last day (the (team, finished_at) index). Filtering on the team alone read every run it ever
    # had: 50 ms at 120,000 runs, on every dashboard view and every team.changed frame.
    in_flight = [RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.AWAITING_PLAN]
    return AgentRun.objects.filter(Q(status__in=in_flight) | Q(finished_at__gte=since), team_id=team_id).aggregate(
        queued=Count("id", filter=Q(status=RunStatus.QUEUED)),
        running=Count("id", filter=Q(status=RunStatus.RUNNING)),
        awaiting_plan=Count("id", filter=Q(status=RunStatus.AWAITING_PLAN)),
        done_today=Count("id", filter=Q(status=RunStatus.DONE, finished_at__gte=since)),
        failed_today=Count("id", filter=Q(status=RunStatus.FAILED, finished_at__gte=since)),
    )


def counters_html(team_id: int) -> str:
    return render_to_string("runs/_team_counters.html", {"counts": team_counts(team_id)})


def team_fragments(team_id: int) -> str:
    parts: list[Any] = [f'<div hx-swap-oob="innerHTML:#team-counters">{counters_html(team_id)}</div>']
    parts += [render(team_id) for render in _renderers]
    return "".join(parts)
