from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts import actions, audit
from accounts.current import current_membership, switch_team
from accounts.forms import AddMemberForm, NewTeamForm, RoleForm, TeamForm
from accounts.models import AuditEntry, Membership, Role
from accounts.permissions import require_role


@login_required
def home(request: HttpRequest) -> HttpResponse:
    membership = current_membership(request)
    if membership is None:
        return redirect("team_new")
    from dashboard.queries import overview

    return render(request, "accounts/home.html", {"nav": "home", **overview(membership)})


@login_required
@require_POST
def team_switch(request: HttpRequest) -> HttpResponse:
    try:
        team_id = int(request.POST.get("team", ""))
    except ValueError:
        team_id = 0
    if switch_team(request, team_id) is None:
        messages.error(request, "You are not a member of that team.")
    target = request.POST.get("next") or request.headers.get("Referer") or "/"
    # Only follow our own paths: a Referer from elsewhere must not redirect off-site.
    if not target.startswith("/") or target.startswith("//"):
        from urllib.parse import urlparse

        parsed = urlparse(target)
        target = parsed.path if parsed.netloc == request.get_host() else "/"
    return redirect(target or "/")


@login_required
def team_new(request: HttpRequest) -> HttpResponse:
    form = NewTeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        team = actions.do_create_team(request.user, form.cleaned_data["name"])
        switch_team(request, team.pk)
        messages.success(request, f"Team {team.name} created. Link a repository to get started.")
        return redirect("project_list")
    return render(request, "accounts/team_new.html", {"form": form, "nav": "team"})


@login_required
def team_settings(request: HttpRequest) -> HttpResponse:
    membership = current_membership(request)
    if membership is None:
        return redirect("team_new")
    team = membership.team
    is_owner = membership.role == Role.OWNER
    team_form = TeamForm(instance=team, prefix="team")
    add_form = AddMemberForm(prefix="add")
    if request.method == "POST":
        require_role(membership, Role.OWNER, "change the team's settings")
        if "team-name" in request.POST:
            before = {"name": team.name, "monthly_budget": str(team.monthly_budget), "max_concurrent_runs": team.max_concurrent_runs}
            team_form = TeamForm(request.POST, instance=team, prefix="team")
            if team_form.is_valid():
                with transaction.atomic():
                    team = team_form.save()
                    after = {"name": team.name, "monthly_budget": str(team.monthly_budget), "max_concurrent_runs": team.max_concurrent_runs}
                    audit.record(team, request.user, "team.settings", team, "changed team settings", before, after)
                messages.success(request, "Team settings saved.")
                return redirect("team_settings")
        else:
            add_form = AddMemberForm(request.POST, prefix="add")
            if add_form.is_valid():
                try:
                    with transaction.atomic():
                        user = add_form.get_or_create_user()
                        actions.do_add_member(team, request.user, user, add_form.cleaned_data["role"])
                except actions.MembershipError as exc:
                    add_form.add_error(None, str(exc))
                else:
                    messages.success(request, f"{user.username} added as {add_form.cleaned_data['role']}.")
                    return redirect("team_settings")
    members = team.memberships.select_related("user").order_by("user__username")
    return render(
        request,
        "accounts/team_settings.html",
        {
            "nav": "team",
            "team": team,
            "members": members,
            "is_owner": is_owner,
            "team_form": team_form,
            "add_form": add_form,
            "roles": Role.choices,
            "can_see_audit": membership.role in (Role.OWNER, Role.MAINTAINER),
        },
    )


def _get_member_for_owner(request: HttpRequest, membership_id: int) -> Membership:
    mine = current_membership(request)
    target = get_object_or_404(
        Membership.objects.select_related("team", "user"),
        pk=membership_id,
        team__memberships__user=request.user,
    )
    if mine is None or mine.team_id != target.team_id:
        mine = target.team.memberships.get(user=request.user)
    require_role(mine, Role.OWNER, "manage members")
    return target


@login_required
@require_POST
def member_role(request: HttpRequest, membership_id: int) -> HttpResponse:
    target = _get_member_for_owner(request, membership_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the listed roles.")
    else:
        try:
            actions.do_change_role(request.user, target, form.cleaned_data["role"])
        except actions.MembershipError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"{target.user.username} is now {target.get_role_display().lower()}.")
    return redirect("team_settings")


@login_required
@require_POST
def member_remove(request: HttpRequest, membership_id: int) -> HttpResponse:
    target = _get_member_for_owner(request, membership_id)
    try:
        actions.do_remove_member(request.user, target)
    except actions.MembershipError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{target.user.username} removed from the team.")
    return redirect("team_settings")


@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    membership = current_membership(request)
    if membership is None:
        return redirect("team_new")
    require_role(membership, Role.MAINTAINER, "read the audit log")
    entries = AuditEntry.objects.filter(team=membership.team).select_related("actor")[:500]
    return render(request, "accounts/audit.html", {"nav": "team", "entries": entries, "team": membership.team})
