from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from accounts.models import Membership
from accounts.permissions import membership_for
from reviews.models import ChangeRequest


def _get_change_request_for_user(request: HttpRequest, cr_id: int) -> tuple[ChangeRequest, Membership]:
    cr = get_object_or_404(
        ChangeRequest.objects.select_related("intent", "project", "team", "run"),
        pk=cr_id,
        team__memberships__user=request.user,
    )
    return cr, membership_for(request.user, cr.team_id)


@login_required
def change_request(request: HttpRequest, cr_id: int) -> HttpResponse:
    cr, membership = _get_change_request_for_user(request, cr_id)
    return render(
        request,
        "reviews/detail.html",
        {"nav": "projects", "cr": cr, "intent": cr.intent, "project": cr.project, "run": cr.run, "membership": membership},
    )
