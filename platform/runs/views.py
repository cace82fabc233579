from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.current import current_membership
from accounts.models import Membership, Role
from accounts.permissions import membership_for, require_role
from runs import actions, live
from runs.forms import ModelConfigForm, PlanForm
from runs.models import AgentRun, ModelConfig


def _get_run_for_user(request: HttpRequest, run_id: int) -> tuple[AgentRun, Membership]:
    run = get_object_or_404(
        AgentRun.objects.select_related("intent", "project", "team", "model"),
        pk=run_id,
        team__memberships__user=request.user,
    )
    return run, membership_for(request.user, run.team_id)


def _get_model_for_user(request: HttpRequest, model_id: int) -> tuple[ModelConfig, Membership]:
    config = get_object_or_404(ModelConfig.objects.select_related("team"), pk=model_id, team__memberships__user=request.user)
    return config, membership_for(request.user, config.team_id)


@login_required
def model_list(request: HttpRequest) -> HttpResponse:
    membership = current_membership(request)
    if membership is None:
        return redirect("team_new")
    team = membership.team
    return render(
        request,
        "runs/models.html",
        {
            "nav": "team",
            "team": team,
            "configs": ModelConfig.objects.filter(team=team),
            "can_edit": membership.can(Role.MAINTAINER),
        },
    )


def _model_form(request: HttpRequest, membership: Membership, config: ModelConfig) -> HttpResponse:
    team = membership.team
    form = ModelConfigForm(request.POST or None, instance=config, team=team)
    if request.method == "POST":
        require_role(membership, Role.MAINTAINER, "configure models")
        if form.is_valid():
            saved = actions.do_save_model_config(
                team,
                request.user,
                form.save(commit=False),
                api_key=form.cleaned_data.get("api_key") or "",
                clear_key=form.cleaned_data.get("clear_api_key", False),
                make_default=form.cleaned_data.get("make_default", False),
            )
            messages.success(request, f"Model {saved.name} saved. Test the connection to be sure it answers.")
            return redirect("model_edit", model_id=saved.pk)
    return render(
        request,
        "runs/model_form.html",
        {"nav": "team", "form": form, "config": config, "can_edit": membership.can(Role.MAINTAINER)},
    )


@login_required
def model_new(request: HttpRequest) -> HttpResponse:
    membership = current_membership(request)
    if membership is None:
        return redirect("team_new")
    require_role(membership, Role.MAINTAINER, "configure models")
    return _model_form(request, membership, ModelConfig(team=membership.team))


@login_required
def model_edit(request: HttpRequest, model_id: int) -> HttpResponse:
    config, membership = _get_model_for_user(request, model_id)
    return _model_form(request, membership, config)


def _change_request_of(run: AgentRun) -> Any:
    from reviews.models import ChangeRequest

    return ChangeRequest.objects.filter(intent_id=run.intent_id).first()


# Parts of the run page that depend on who looks (forms with a CSRF token, role checks): the live
# feed cannot render them, so it asks the browser to fetch them again from here when they change.
RUN_PARTS = ("actions", "approval")


@login_required
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    run, membership = _get_run_for_user(request, run_id)
    context: dict[str, Any] = {
        "nav": "projects",
        "run": run,
        "intent": run.intent,
        "project": run.project,
        "membership": membership,
        "can_act": membership.can(Role.MEMBER),
        "change_request": _change_request_of(run),
    }
    part = request.GET.get("part", "")
    if part in RUN_PARTS:
        return render(request, f"runs/detail.html#{part}", context)
    context["fold"] = live.page_fold(run.pk)
    context["diff_view"] = live.diff_view(run)
    return render(request, "runs/detail.html", context)


@login_required
@require_POST
def model_test(request: HttpRequest, model_id: int) -> HttpResponse:
    from runs.connection import test_connection

    config, membership = _get_model_for_user(request, model_id)
    require_role(membership, Role.MEMBER, "test a model connection")
    report = test_connection(config)
    context = {"report": report, "config": config}
    if request.htmx:
        return render(request, "runs/_connection.html", context)
    level = messages.SUCCESS if report.ok else messages.ERROR
    prefix = "The model answered" if report.ok else "The model did not answer"
    messages.add_message(request, level, f"{prefix} in {report.seconds:.1f} s: {report.message}")
    return redirect("model_edit", model_id=config.pk)


@login_required
@require_POST
def run_cancel(request: HttpRequest, run_id: int) -> HttpResponse:
    run, membership = _get_run_for_user(request, run_id)
    require_role(membership, Role.MEMBER, "cancel runs")
    actions.do_cancel_run(run, request.user)
    messages.success(request, "Cancelling: the agent stops at its next step and its sandbox is removed.")
    return redirect("run_detail", run_id=run.pk)


@login_required
@require_POST
def run_approve_plan(request: HttpRequest, run_id: int) -> HttpResponse:
    run, membership = _get_run_for_user(request, run_id)
    require_role(membership, Role.MEMBER, "approve plans")
    form = PlanForm(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(e for errors in form.errors.values() for e in errors))
        return redirect("run_detail", run_id=run.pk)
    try:
        actions.do_approve_plan(run, request.user, form.cleaned_data["plan"])
    except actions.QueueError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Plan approved: the agent carries on from where it stopped.")
    return redirect("run_detail", run_id=run.pk)


@login_required
@require_POST
def run_retry(request: HttpRequest, run_id: int) -> HttpResponse:
    run, membership = _get_run_for_user(request, run_id)
    require_role(membership, Role.MEMBER, "retry runs")
    try:
        retry = actions.do_retry_run(run, request.user)
    except actions.QueueError as exc:
        messages.error(request, str(exc))
        return redirect("run_detail", run_id=run.pk)
    messages.success(request, f"Retrying as run {retry.pk}.")
    return redirect("run_detail", run_id=retry.pk)
