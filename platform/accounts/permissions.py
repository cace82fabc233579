"""Role checks. An outsider never learns a thing exists (404); a member without the role gets 403."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404

from accounts.models import ROLE_RANK, Membership, Role, Team


def membership_for(user: Any, team: Team | int) -> Membership:
    team_id = team if isinstance(team, int) else team.pk
    if not user.is_authenticated:
        raise Http404
    membership = Membership.objects.filter(user=user, team_id=team_id).select_related("team").first()
    if membership is None:
        raise Http404
    return membership


def require_role(membership: Membership, role: str, doing: str = "do that") -> None:
    if ROLE_RANK[Role(membership.role)] < ROLE_RANK[Role(role)]:
        raise PermissionDenied(f"Only a team {Role(role).label.lower()} or above can {doing}.")
