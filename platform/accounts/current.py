"""Which team a signed-in user is looking at (the team switcher's choice)."""

from __future__ import annotations

from django.http import HttpRequest

from accounts.models import Membership

SESSION_KEY = "team_id"
_CACHE_ATTR = "_slipway_membership"


def current_membership(request: HttpRequest) -> Membership | None:
    """The user's membership in the chosen team, else in their first team; None without any."""
    if hasattr(request, _CACHE_ATTR):
        return getattr(request, _CACHE_ATTR)
    membership = None
    if request.user.is_authenticated:
        memberships = Membership.objects.filter(user=request.user).select_related("team")
        wanted = request.session.get(SESSION_KEY)
        if wanted is not None:
            membership = memberships.filter(team_id=wanted).first()
        if membership is None:
            membership = memberships.order_by("team__name").first()
    setattr(request, _CACHE_ATTR, membership)
    return membership


def switch_team(request: HttpRequest, team_id: int) -> Membership | None:
    membership = Membership.objects.filter(user=request.user, team_id=team_id).select_related("team").first()
    if membership is not None:
        request.session[SESSION_KEY] = membership.team_id
        setattr(request, _CACHE_ATTR, membership)
    return membership
