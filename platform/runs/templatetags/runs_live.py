"""``{% load runs_live %}{% team_counters team %}``: the dashboard's live counters, first render."""

from __future__ import annotations

from typing import Any

from django import template

from runs.live_team import team_counts

register = template.Library()


@register.inclusion_tag("runs/_team_counters.html")
def team_counters(team: Any) -> dict[str, Any]:
    return {"counts": team_counts(team.pk)}
