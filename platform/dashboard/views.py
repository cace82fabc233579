from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache

from accounts.current import current_membership
from accounts.models import Membership, Role
from accounts.permissions import require_role
from dashboard import metrics, report
from dashboard.definitions import DEFINITIONS
from dashboard.filters import PERIODS, Filters, parse_filters
from dashboard.tables import to_csv


def _get_membership_for_user(request: HttpRequest) -> Membership | None:
    """The team the user is looking at: the dashboard never reads another team's rows."""
    return current_membership(request)


def _charts(context: dict[str, Any]) -> list[dict[str, Any]]:
    return [chart.config() for section in ("flow", "outcomes", "cost") for chart in context[section]["charts"]]


def _page_context(request: HttpRequest, membership: Membership, f: Filters) -> dict[str, Any]:
    return {
        "nav": "dashboard",
        "team": membership.team,
        "f": f,
        "periods": list(PERIODS),
        "can_rank": membership.can(Role.MAINTAINER),
        "live_url": f"{reverse('dashboard_live')}?{f.querystring()}",
    }


@login_required
@never_cache
def dashboard(request: HttpRequest) -> HttpResponse:
    membership = _get_membership_for_user(request)
    if membership is None:
        return redirect("team_new")
    f = parse_filters(membership.team, request.GET)
    context = {**_page_context(request, membership, f), **report.full(f, membership)}
    context["charts"] = _charts(context)
    return render(request, "dashboard/dashboard.html", context)


@login_required
@never_cache
def dashboard_live(request: HttpRequest) -> HttpResponse:
    """The cards and the workload alone, for htmx to swap in on a team change or every few seconds."""
    membership = _get_membership_for_user(request)
    if membership is None:
        raise Http404
    f = parse_filters(membership.team, request.GET, with_choices=False)
    context = {**_page_context(request, membership, f), **report.live(f)}
    return render(request, "dashboard/dashboard.html#live", context)


@login_required
@never_cache
def export_csv(request: HttpRequest, name: str) -> HttpResponse:
    membership = _get_membership_for_user(request)
    if membership is None or name not in report.EXPORTS:
        raise Http404
    if name in report.MAINTAINERS_ONLY:
        require_role(membership, Role.MAINTAINER, "see rankings of people")
    f = parse_filters(membership.team, request.GET, with_choices=False)
    table = report.export_table(name, f, membership)
    response = HttpResponse(to_csv(table), content_type="text/csv; charset=utf-8")
    stamp = f.now.strftime("%Y%m%d")
    response["Content-Disposition"] = f'attachment; filename="{membership.team.slug}-{name}-{stamp}.csv"'
    return response


@login_required
def definitions(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboard/definitions.html", {"nav": "dashboard", "definitions": DEFINITIONS})


@never_cache
def prometheus(request: HttpRequest) -> HttpResponse:
    """Operators' metrics across all teams: a bearer token (SLIPWAY_METRICS_TOKEN) or a staff session."""
    if not metrics.allowed(request):
        response = HttpResponse("Forbidden: send Authorization: Bearer <SLIPWAY_METRICS_TOKEN>.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="slipway-metrics"'
        return response
    body, content_type = metrics.render()
    return HttpResponse(body, content_type=content_type)
