from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from accounts.current import current_membership
from accounts.models import Membership, Role
from accounts.permissions import membership_for, require_role
from intents.models import OPEN
from projects import actions, queries
from projects.forms import LinkProjectForm, ProjectSettingsForm
from projects.models import Project


def _get_project_for_user(request: HttpRequest, project_id: int) -> tuple[Project, Membership]:
    project = get_object_or_404(Project.objects.select_related("team"), pk=project_id, team__memberships__user=request.user)
    return project, membership_for(request.user, project.team_id)


@login_required
def project_list(request: HttpRequest) -> HttpResponse:
    membership = current_membership(request)
    if membership is None:
        return redirect("team_new")
    projects = Project.objects.filter(team=membership.team).annotate(
        open_intents=Count("intents", filter=Q(intents__status__in=OPEN)),
        running=Count("intents", filter=Q(intents__status="running")),
        in_review=Count("intents", filter=Q(intents__status="in_review")),
    )
    return render(
        request,
        "projects/list.html",
        {"nav": "projects", "projects": projects, "can_link": membership.can(Role.MAINTAINER)},
    )


@login_required
def project_new(request: HttpRequest) -> HttpResponse:
    membership = current_membership(request)
    if membership is None:
        return redirect("team_new")
    require_role(membership, Role.MAINTAINER, "link a repository")
    form = LinkProjectForm(request.POST or None, team=membership.team)
    if request.method == "POST" and form.is_valid():
        project = actions.do_link_project(
            membership.team,
            request.user,
            form.save(commit=False),
            token=form.cleaned_data.get("credentials_token") or "",
            head_sha=form.probed_head,
        )
        messages.success(request, f"Linked {project.name} at {project.default_branch} ({project.head_sha[:10]}).")
        return redirect("project_board", project_id=project.pk)
    return render(request, "projects/new.html", {"nav": "projects", "form": form})


@login_required
def project_board(request: HttpRequest, project_id: int) -> HttpResponse:
    project, membership = _get_project_for_user(request, project_id)
    context = {
        "nav": "projects",
        "project": project,
        "membership": membership,
        "columns": queries.board(project, request.GET),
        "choices": queries.filter_choices(project),
        "label": request.GET.get("label", ""),
        "author": request.GET.get("author", ""),
        "can_file": membership.can(Role.MEMBER),
    }
    template = "projects/board.html#board" if request.htmx and not request.htmx.boosted else "projects/board.html"
    return render(request, template, context)


@login_required
def project_settings(request: HttpRequest, project_id: int) -> HttpResponse:
    project, membership = _get_project_for_user(request, project_id)
    can_edit = membership.can(Role.MAINTAINER)
    before = actions.snapshot(project)
    form = ProjectSettingsForm(request.POST or None, instance=project)
    if request.method == "POST":
        require_role(membership, Role.MAINTAINER, "change a project's settings")
        if form.is_valid():
            actions.do_update_project(
                request.user,
                form.save(commit=False),
                before,
                token=form.cleaned_data.get("credentials_token") or "",
                clear=form.cleaned_data.get("clear_credentials", False),
            )
            messages.success(request, "Project settings saved.")
            return redirect("project_settings", project_id=project.pk)
    return render(
        request,
        "projects/settings.html",
        {"nav": "projects", "project": project, "form": form, "can_edit": can_edit, "can_file": membership.can(Role.MEMBER)},
    )
