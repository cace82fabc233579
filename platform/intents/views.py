from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.models import Membership, Role
from accounts.permissions import membership_for, require_role
from config.markdown import render_markdown
from intents import actions
from intents.forms import CommentForm, IntentForm, PreviewForm
from intents.models import Intent, Status
from projects.views import _get_project_for_user


def _get_intent_for_user(request: HttpRequest, intent_id: int) -> tuple[Intent, Membership]:
    intent = get_object_or_404(
        Intent.objects.select_related("project", "team", "author", "model"),
        pk=intent_id,
        team__memberships__user=request.user,
    )
    return intent, membership_for(request.user, intent.team_id)


@login_required
def intent_new(request: HttpRequest, project_id: int) -> HttpResponse:
    project, membership = _get_project_for_user(request, project_id)
    require_role(membership, Role.MEMBER, "file intents")
    form = IntentForm(request.POST or None, team=project.team)
    queue_error = ""
    if request.method == "POST" and form.is_valid():
        from runs.actions import QueueError

        queue = request.POST.get("action") != "draft"
        try:
            intent = actions.do_file_intent(project, request.user, form.save(commit=False), queue=queue)
        except QueueError as exc:
            queue_error = str(exc)
        else:
            messages.success(request, "Intent filed and queued." if queue else "Intent saved as a draft.")
            if request.htmx:
                response = HttpResponse(status=204)
                response["HX-Redirect"] = intent.get_absolute_url()
                return response
            return redirect(intent)
    context = {"nav": "projects", "project": project, "form": form, "queue_error": queue_error, "can_file": True}
    if request.htmx:
        return render(request, "intents/new.html#intent-form", context)
    return render(request, "intents/new.html", context)


@login_required
@require_POST
def intent_preview(request: HttpRequest) -> HttpResponse:
    form = PreviewForm(request.POST)
    if not form.is_valid():
        return HttpResponse('<p class="errorlist">Too long to preview.</p>', status=200)
    text = form.cleaned_data["text"] or ""
    for key in ("description", "acceptance_criteria", "body"):
        text = text or request.POST.get(key, "")
    html = render_markdown(text) if text.strip() else '<p class="faint">Nothing to preview yet.</p>'
    return HttpResponse(html)


@login_required
def intent_detail(request: HttpRequest, intent_id: int) -> HttpResponse:
    intent, membership = _get_intent_for_user(request, intent_id)
    comment_form = CommentForm()
    runs = list(intent.runs.select_related("model").order_by("-round", "attempt"))
    change_request = getattr(intent, "change_request", None) if hasattr(intent, "change_request") else None
    return render(
        request,
        "intents/detail.html",
        {
            "nav": "projects",
            "intent": intent,
            "project": intent.project,
            "membership": membership,
            "comments": intent.comments.select_related("author"),
            "comment_form": comment_form,
            "runs": runs,
            "change_request": change_request,
            "can_act": membership.can(Role.MEMBER),
            "can_queue": membership.can(Role.MEMBER) and intent.can_transition(Status.QUEUED) and intent.status in (Status.DRAFT, Status.FAILED, Status.CANCELLED),
            "can_cancel": membership.can(Role.MEMBER) and intent.can_transition(Status.CANCELLED),
        },
    )


@login_required
@require_POST
def intent_comment(request: HttpRequest, intent_id: int) -> HttpResponse:
    intent, membership = _get_intent_for_user(request, intent_id)
    require_role(membership, Role.MEMBER, "comment")
    form = CommentForm(request.POST)
    if form.is_valid():
        comment = actions.do_comment(intent, request.user, form.cleaned_data["body"])
        if request.htmx:
            return render(request, "intents/detail.html#comment-list", {"comments": intent.comments.select_related("author"), "comment_form": CommentForm(), "intent": intent, "can_act": True, "new_comment": comment})
        return redirect(intent)
    if request.htmx:
        return render(request, "intents/detail.html#comment-list", {"comments": intent.comments.select_related("author"), "comment_form": form, "intent": intent, "can_act": True}, status=422)
    messages.error(request, "; ".join(e for errs in form.errors.values() for e in errs))
    return redirect(intent)


@login_required
@require_POST
def intent_queue(request: HttpRequest, intent_id: int) -> HttpResponse:
    from intents.models import IllegalTransition
    from runs.actions import QueueError, do_queue_intent

    intent, membership = _get_intent_for_user(request, intent_id)
    require_role(membership, Role.MEMBER, "start agents")
    try:
        do_queue_intent(intent, request.user)
    except (QueueError, IllegalTransition) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Queued: an agent will pick it up shortly.")
    return redirect(intent)


@login_required
@require_POST
def intent_cancel(request: HttpRequest, intent_id: int) -> HttpResponse:
    from runs.actions import do_cancel_intent

    intent, membership = _get_intent_for_user(request, intent_id)
    require_role(membership, Role.MEMBER, "cancel intents")
    if not intent.can_transition(Status.CANCELLED):
        messages.error(request, f"An intent that is {intent.get_status_display().lower()} cannot be cancelled.")
    else:
        do_cancel_intent(intent, request.user)
        messages.success(request, "Cancelled. Any running agent stops at its next step.")
    return redirect(intent)
