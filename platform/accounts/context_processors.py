from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from accounts.current import current_membership
from accounts.models import Membership


def teams(request: HttpRequest) -> dict[str, Any]:
    if not request.user.is_authenticated:
        return {}
    membership = current_membership(request)
    return {
        "membership": membership,
        "current_team": membership.team if membership else None,
        "my_memberships": Membership.objects.filter(user=request.user).select_related("team").order_by("team__name"),
    }
