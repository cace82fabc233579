"""Evaluation suites: import, repository mapping, runs, leaderboards, and what goes to the official harness."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.current import current_membership
from accounts.models import Membership, Role
from accounts.permissions import membership_for, require_role
from evals import actions, leaderboard, reports
from evals.actions import EvalError
from evals.forms import EvaluationForm, MappingForm, SuiteImportForm
from evals.models import EvalResult, EvalSuite, Evaluation, GradeStatus
from runs.models import ModelConfig


def _get_suite_for_user(request: HttpRequest, suite_id: int) -> tuple[EvalSuite, Membership]:
    suite = get_object_or_404(
        EvalSuite.objects.select_related("team"), pk=suite_id, team__memberships__user=request.user
    )
    return suite, membership_for(request.user, suite.team_id)


def _get_evaluation_for_user(request: HttpRequest, evaluation_id: int) -> tuple[Evaluation, Membership]:
    evaluation = get_object_or_404(
        Evaluation.objects.select_related("suite", "team"),
        pk=evaluation_id,
        team__memberships__user=request.user,
    )
    return evaluation, membership_for(request.user, evaluation.team_id)


# -- suites --------------------------------------------------------------------------


@login_required
def suite_list(request: HttpRequest) -> HttpResponse:
    membership = current_membership(request)
    if membership is None:
        return redirect("team_new")
    suites = EvalSuite.objects.filter(team=membership.team).annotate(
        n_tasks=Count("tasks", distinct=True), n_evaluations=Count("evaluations", distinct=True)
    )
    context = {
        "nav": "evals",
        "team": membership.team,
        "suites": suites,
        "can_act": membership.can(Role.MEMBER),
    }
    return render(request, "evals/suites.html", context)


@login_required
def suite_import(request: HttpRequest) -> HttpResponse:
    membership = current_membership(request)
    if membership is None:
        return redirect("team_new")
    require_role(membership, Role.MEMBER, "import evaluation suites")
    form = SuiteImportForm(request.POST or None, request.FILES or None, team=membership.team)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            suite, report = actions.do_import_suite(
                membership.team,
                request.user,
                data["name"],
                data["content"],
                description=data.get("description") or "",
                project=data.get("project"),
                include_hints=data.get("include_hints", False),
                test_runner=data.get("test_runner") or "",
            )
        except EvalError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Imported {report.imported} tasks.")
            if report.problems:
                messages.warning(
                    request,
                    f"{len(report.problems)} rows could not be read: they are listed on the suite's page.",
                )
            if report.unlinked:
                repos = ", ".join(f"{repo} ({n})" for repo, n in report.unlinked.items())
                messages.warning(
                    request,
                    f"No linked project for {repos}: map them to a project before running those tasks.",
                )
            return redirect("eval_suite", suite_id=suite.pk)
    return render(request, "evals/import.html", {"nav": "evals", "form": form})


def _repositories(suite: EvalSuite) -> list[dict[str, Any]]:
    """Each repository of the suite: its tasks and the project they run in (None: not linked)."""
    rows = suite.tasks.values("repo", "project_id", "project__name").annotate(n=Count("id")).order_by("repo")
    return [
        {"repo": r["repo"], "tasks": r["n"], "project_id": r["project_id"], "project": r["project__name"],
         "form": MappingForm(initial={"repo": r["repo"], "project": r["project_id"]}, team=suite.team)}
        for r in rows
    ]  # fmt: skip


@login_required
def suite_detail(request: HttpRequest, suite_id: int) -> HttpResponse:
    suite, membership = _get_suite_for_user(request, suite_id)
    evaluations = suite.evaluations.annotate(
        n_results=Count("results"),
        n_pending=Count("results", filter=Q(results__status__in=[GradeStatus.PENDING, GradeStatus.GRADING])),
        n_resolved=Count("results", filter=Q(results__status=GradeStatus.RESOLVED)),
    ).prefetch_related("model_configs")
    board = leaderboard.leaderboard(suite)
    context = {
        "nav": "evals",
        "suite": suite,
        "tasks": suite.tasks.select_related("project"),
        "repositories": _repositories(suite),
        "evaluations": evaluations,
        "board": board,
        "pending": sum(r.pending for r in board),
        "run_form": EvaluationForm(team=suite.team),
        "can_act": membership.can(Role.MEMBER),
    }
    if request.GET.get("part") == "leaderboard":
        return render(request, "evals/suite.html#leaderboard", context)
    return render(request, "evals/suite.html", context)


@login_required
@require_POST
def suite_map(request: HttpRequest, suite_id: int) -> HttpResponse:
    suite, membership = _get_suite_for_user(request, suite_id)
    require_role(membership, Role.MEMBER, "map repositories")
    form = MappingForm(request.POST, team=suite.team)
    if form.is_valid():
        actions.do_map_repository(
            suite, request.user, form.cleaned_data["repo"], form.cleaned_data["project"]
        )
        messages.success(request, f"{form.cleaned_data['repo']} mapped.")
    else:
        messages.error(request, "Choose one of the team's projects.")
    return redirect("eval_suite", suite_id=suite.pk)


@login_required
@require_POST
def suite_run(request: HttpRequest, suite_id: int) -> HttpResponse:
    suite, membership = _get_suite_for_user(request, suite_id)
    require_role(membership, Role.MEMBER, "run evaluations")
    form = EvaluationForm(request.POST, team=suite.team)
    if not form.is_valid():
        messages.error(request, "Choose at least one model configuration, and 1 to 5 attempts.")
        return redirect("eval_suite", suite_id=suite.pk)
    try:
        evaluation = actions.do_start_evaluation(
            suite, request.user, list(form.cleaned_data["models"]), form.cleaned_data["attempts"]
        )
    except EvalError as exc:
        messages.error(request, str(exc))
        return redirect("eval_suite", suite_id=suite.pk)
    messages.success(request, f"Evaluation {evaluation.pk} started: its runs are queued.")
    return redirect("eval_evaluation", evaluation_id=evaluation.pk)


@login_required
def suite_compare(request: HttpRequest, suite_id: int) -> HttpResponse:
    suite, _ = _get_suite_for_user(request, suite_id)
    configs = list(ModelConfig.objects.filter(team=suite.team))
    ids = {c.pk for c in configs}
    try:
        a, b = int(request.GET.get("a", "")), int(request.GET.get("b", ""))
    except ValueError:
        a = b = 0
    context: dict[str, Any] = {"nav": "evals", "suite": suite, "configs": configs, "a": a, "b": b}
    if a in ids and b in ids:
        context["rows"], context["summary"] = leaderboard.compare(suite, a, b)
        context["a_name"] = next(c.name for c in configs if c.pk == a)
        context["b_name"] = next(c.name for c in configs if c.pk == b)
    return render(request, "evals/compare.html", context)


# -- evaluations ---------------------------------------------------------------------------


@login_required
def evaluation_detail(request: HttpRequest, evaluation_id: int) -> HttpResponse:
    evaluation, membership = _get_evaluation_for_user(request, evaluation_id)
    results = EvalResult.objects.filter(evaluation=evaluation).select_related("task", "run")
    pending = results.filter(status__in=[GradeStatus.PENDING, GradeStatus.GRADING]).count()
    context = {
        "nav": "evals",
        "evaluation": evaluation,
        "suite": evaluation.suite,
        "results": results,
        "pending": pending,
        "downloads": [
            (m, n) for m in evaluation.model_configs.all() for n in range(1, evaluation.attempts + 1)
        ],
        "can_act": membership.can(Role.MEMBER),
    }
    if request.GET.get("part") == "results":
        return render(request, "evals/evaluation.html#results", context)
    return render(request, "evals/evaluation.html", context)


def _model_and_attempt(request: HttpRequest, evaluation: Evaluation) -> tuple[int, int]:
    try:
        model_id, attempt = int(request.GET["model"]), int(request.GET.get("attempt", "1"))
    except (KeyError, ValueError):
        raise Http404 from None
    if not evaluation.model_configs.filter(pk=model_id).exists() or not 1 <= attempt <= evaluation.attempts:
        raise Http404
    return model_id, attempt


@login_required
def evaluation_predictions(request: HttpRequest, evaluation_id: int) -> HttpResponse:
    evaluation, _ = _get_evaluation_for_user(request, evaluation_id)
    model_id, attempt = _model_and_attempt(request, evaluation)
    body = "".join(
        json.dumps(p, ensure_ascii=False) + "\n" for p in reports.predictions(evaluation, model_id, attempt)
    )
    response = HttpResponse(body, content_type="application/jsonl; charset=utf-8")
    name = f"evaluation-{evaluation.pk}-model-{model_id}-attempt-{attempt}-predictions.jsonl"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@login_required
def evaluation_report(request: HttpRequest, evaluation_id: int) -> HttpResponse:
    evaluation, _ = _get_evaluation_for_user(request, evaluation_id)
    model_id, attempt = _model_and_attempt(request, evaluation)
    response = HttpResponse(
        json.dumps(reports.report(evaluation, model_id, attempt), indent=2), content_type="application/json"
    )
    name = f"evaluation-{evaluation.pk}-model-{model_id}-attempt-{attempt}-report.json"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@login_required
@require_POST
def evaluation_regrade(request: HttpRequest, evaluation_id: int) -> HttpResponse:
    evaluation, membership = _get_evaluation_for_user(request, evaluation_id)
    require_role(membership, Role.MEMBER, "grade evaluations")
    queued = actions.do_regrade(evaluation, request.user)
    messages.success(request, f"{queued} results queued for grading.")
    return redirect("eval_evaluation", evaluation_id=evaluation.pk)
