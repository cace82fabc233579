from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from accounts.current import current_membership


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    membership = current_membership(request)
    if membership is None:
        return redirect("team_new")
    from dashboard.queries import overview

    return render(request, "dashboard/dashboard.html", {"nav": "dashboard", **overview(membership)})
