from __future__ import annotations

import json
from itertools import groupby
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.models import Membership, Role
from accounts.permissions import membership_for, require_role
from agents.git import GitError, run_git
from agents.redact import Redactor
from intents.models import Status
from projects.models import MergeStrategy
from reviews import actions, diffs, merge, merging
from reviews.models import ChangeRequest, CRStatus, ReviewComment, Side
from reviews.policy import (
    DECIDABLE,
    ReviewError,
    approved,
    current_approvals,
    is_agent_identity,
    merge_blockers,
)
from runs.models import AgentRun


def _get_change_request_for_user(request: HttpRequest, cr_id: int) -> tuple[ChangeRequest, Membership]:
    cr = get_object_or_404(
        ChangeRequest.objects.select_related("intent", "project", "team", "run", "merged_by", "approved_by"),
        pk=cr_id,
        team__memberships__user=request.user,
    )
    return cr, membership_for(request.user, cr.team_id)


def _get_run_for_user(request: HttpRequest, run_id: int) -> tuple[AgentRun, Membership]:
    run = get_object_or_404(AgentRun.objects.select_related("project", "model"), pk=run_id, team__memberships__user=request.user)
    return run, membership_for(request.user, run.team_id)


def _may_decide(request: HttpRequest, membership: Membership) -> bool:
    return membership.can(Role.MEMBER) and not is_agent_identity(request.user)


def _shown_run(request: HttpRequest, cr: ChangeRequest) -> AgentRun:
    """The proposed run, or another attempt of its round when the reviewer asked to see one."""
    attempt = request.GET.get("attempt", "")
    if attempt.isdigit() and int(attempt) != cr.run_id:
        return get_object_or_404(AgentRun, pk=int(attempt), intent_id=cr.intent_id, round=cr.run.round)
    return cr.run


def _view_mode(request: HttpRequest) -> str:
    return "split" if request.GET.get("view") == "split" else "unified"


@login_required
def change_request(request: HttpRequest, cr_id: int) -> HttpResponse:
    cr, membership = _get_change_request_for_user(request, cr_id)
    run = _shown_run(request, cr)
    view = diffs.parse(run.diff)
    comments = list(cr.comments.select_related("author", "run"))
    placed = _place(view, run, comments)
    runs = list(cr.intent.runs.order_by("round", "attempt", "id"))
    may_decide = _may_decide(request, membership)
    can_decide = may_decide and cr.is_open and cr.intent.status in DECIDABLE
    can_send_back = may_decide and cr.is_open and cr.intent.status in DECIDABLE | {Status.FAILED}
    blockers = merge_blockers(cr)
    return render(
        request,
        "reviews/detail.html",
        {
            "nav": "projects",
            "cr": cr,
            "intent": cr.intent,
            "project": cr.project,
            "run": run,
            "showing_other_attempt": run.pk != cr.run_id,
            "membership": membership,
            "diff": view,
            "mode": _view_mode(request),
            "conversation": _conversation(cr, comments, placed),
            "attempts": [r for r in runs if r.round == cr.run.round],
            "rounds": [(n, list(rs)) for n, rs in groupby(runs, key=lambda r: r.round)],
            "unsent": sum(1 for c in comments if not c.sent_to_agent),
            "may_decide": may_decide,
            "can_decide": can_decide,
            "can_send_back": can_send_back,
            "can_comment": can_send_back and run.pk == cr.run_id,
            "may_comment": may_decide and cr.is_open,
            "can_merge": may_decide and cr.is_open and not blockers,
            "blockers": blockers,
            "approvals": current_approvals(cr),
            "approval_met": approved(cr),
            "tests": [("Before the change", run.baseline), ("After the change", run.final)],
            "strategies": MergeStrategy.choices,
            "commit_url": merge.commit_web_url(cr.project.repo_url, cr.merge_commit),
        },
    )


def _place(view: diffs.DiffView, run: AgentRun, comments: list[ReviewComment]) -> set[int]:
    """Attach the line comments written on ``run`` to their lines; the ids of those that found one."""
    line_comments = [c for c in comments if c.path and c.run_id == run.pk]
    unplaced = view.attach(line_comments)
    return {c.pk for c in line_comments} - {c.pk for c in unplaced}


def _conversation(cr: ChangeRequest, comments: list[ReviewComment], placed: set[int]) -> list[dict[str, Any]]:
    """Reviews and comments not shown beside a line, oldest first, each with its kind."""
    items = [{"kind": "review", "at": r.created_at, "item": r} for r in cr.reviews.select_related("reviewer")]
    items += [{"kind": "comment", "at": c.created_at, "item": c} for c in comments if c.pk not in placed]
    return sorted(items, key=lambda i: i["at"])


@login_required
def comment_form(request: HttpRequest, cr_id: int) -> HttpResponse:
    """The inline form for a line comment (a table row for htmx; a page of its own without JavaScript)."""
    cr, membership = _get_change_request_for_user(request, cr_id)
    require_role(membership, Role.MEMBER, "comment")
    context = {"cr": cr, "intent": cr.intent, "project": cr.project, "nav": "projects", **_line_params(request.GET)}
    if request.htmx:
        return render(request, "reviews/_comment_form.html", context)
    return render(request, "reviews/comment_new.html", context)


@login_required
@require_POST
def comment(request: HttpRequest, cr_id: int) -> HttpResponse:
    cr, membership = _get_change_request_for_user(request, cr_id)
    require_role(membership, Role.MEMBER, "comment")
    params = _line_params(request.POST)
    body = request.POST.get("body", "")
    if len(body) > 20_000:
        return _comment_refused(request, cr, params, "That comment is too long (20,000 characters at most).")
    try:
        created = actions.do_comment(cr, request.user, body, path=params["path"], line=params["line"], side=params["side"])
    except ReviewError as exc:
        return _comment_refused(request, cr, params, str(exc))
    if request.htmx:
        if created.path:
            context = {"c": created, "cr": cr, "unsent": _unsent(cr), **params}
            return render(request, "reviews/_line_comment.html", context)
        return _conversation_block(request, cr)
    return redirect(reverse("change_request", args=[cr.pk]) + (f"#comment-{created.pk}"))


def _comment_refused(request: HttpRequest, cr: ChangeRequest, params: dict[str, Any], error: str) -> HttpResponse:
    # htmx swaps 2xx answers only: the form comes back with its error and the text typed so far.
    body = request.POST.get("body", "")
    if request.htmx and params["path"]:
        return render(request, "reviews/_comment_form.html", {"cr": cr, "error": error, "body": body, **params})
    if request.htmx:
        return _conversation_block(request, cr, error=error, body=body)
    messages.error(request, error)
    return redirect("change_request", cr_id=cr.pk)


def _conversation_block(request: HttpRequest, cr: ChangeRequest, **extra: Any) -> HttpResponse:
    """The conversation and its comment form, as after a reload (line comments on the diff stay there)."""
    comments = list(cr.comments.select_related("author", "run"))
    placed = _place(diffs.parse(cr.run.diff, highlight_code=False), cr.run, comments)
    context = {"cr": cr, "conversation": _conversation(cr, comments, placed), "may_comment": True, "oob": True, "unsent": _unsent(cr), **extra}
    return render(request, "reviews/detail.html#conversation", context)


def _unsent(cr: ChangeRequest) -> int:
    return cr.comments.filter(sent_to_agent=False).count()


def _line_params(data: Any) -> dict[str, Any]:
    line = data.get("line", "")
    side = data.get("side", Side.NEW)
    return {
        "path": data.get("path", "")[:1000],
        "line": int(line) if line.isdigit() else None,
        "side": side if side in Side.values else Side.NEW,
        "cols": 4 if data.get("view") == "split" else 3,
        "view": "split" if data.get("view") == "split" else "unified",
    }


DECISIONS = {
    "approve": (actions.do_approve, "Approved."),
    "request_changes": (actions.do_request_changes, "Changes requested: the agent starts the next round."),
    "close": (actions.do_close, "Closed. The intent is cancelled."),
}


@login_required
@require_POST
def decide(request: HttpRequest, cr_id: int) -> HttpResponse:
    cr, membership = _get_change_request_for_user(request, cr_id)
    require_role(membership, Role.MEMBER, "review changes")
    decision = DECISIONS.get(request.POST.get("decision", ""))
    if decision is None:
        messages.error(request, "Choose approve, request changes or close.")
        return redirect("change_request", cr_id=cr.pk)
    do, done = decision
    try:
        do(cr, request.user, request.POST.get("body", "")[:20_000])
    except ReviewError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done)
    return redirect("change_request", cr_id=cr.pk)


@login_required
@require_POST
def merge_view(request: HttpRequest, cr_id: int) -> HttpResponse:
    cr, membership = _get_change_request_for_user(request, cr_id)
    require_role(membership, Role.MEMBER, "merge changes")
    strategy = request.POST.get("strategy") or cr.project.merge_strategy
    try:
        result = merging.do_merge(cr, request.user, strategy)
    except ReviewError as exc:
        messages.error(request, str(exc))
    except (merge.MergeConflict, merge.NotFastForward):
        messages.error(request, "Nothing was merged: the change no longer applies as it is (see below).")
    except merge.MergeError as exc:
        context = {"cr": cr, "intent": cr.intent, "project": cr.project, "nav": "projects", "error": str(exc)}
        return render(request, "reviews/merge_failed.html", context, status=502)
    else:
        messages.success(request, f"Merged into {cr.base_branch} as {result.commit[:10]}.")
    return redirect("change_request", cr_id=cr.pk)


@login_required
@require_POST
def check(request: HttpRequest, cr_id: int) -> HttpResponse:
    cr, membership = _get_change_request_for_user(request, cr_id)
    require_role(membership, Role.MEMBER, "check changes")
    try:
        result = merging.do_check_merge(cr, request.user, request.POST.get("strategy", ""))
    except ReviewError as exc:
        messages.error(request, str(exc))
    else:
        if result is not None:
            messages.success(request, f"The change still applies to {cr.base_branch} at {result.base_sha[:10]}.")
    return redirect("change_request", cr_id=cr.pk)


@login_required
@require_POST
def rebase(request: HttpRequest, cr_id: int) -> HttpResponse:
    cr, membership = _get_change_request_for_user(request, cr_id)
    require_role(membership, Role.MEMBER, "start agents")
    try:
        run = actions.do_rebase_with_agent(cr, request.user)
    except ReviewError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"The agent is rebasing the change onto {cr.base_branch} (round {run.round}).")
    return redirect("change_request", cr_id=cr.pk)


@login_required
@require_POST
def pick_attempt(request: HttpRequest, cr_id: int) -> HttpResponse:
    cr, membership = _get_change_request_for_user(request, cr_id)
    require_role(membership, Role.MEMBER, "pick an attempt")
    run_id = request.POST.get("run", "")
    run = get_object_or_404(AgentRun, pk=int(run_id) if run_id.isdigit() else 0, intent_id=cr.intent_id)
    try:
        actions.do_pick_attempt(cr, request.user, run)
    except ReviewError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Attempt {run.attempt} is now the proposed change.")
    return redirect("change_request", cr_id=cr.pk)


@login_required
@require_POST
def delete_branch(request: HttpRequest, cr_id: int) -> HttpResponse:
    cr, membership = _get_change_request_for_user(request, cr_id)
    require_role(membership, Role.MEMBER, "delete branches")
    try:
        deleted = merging.do_delete_branch(cr, request.user)
    except (ReviewError, merge.MergeError) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Deleted {', '.join(deleted)}." if deleted else "The branches were already gone.")
    return redirect("change_request", cr_id=cr.pk)


@login_required
def patch(request: HttpRequest, cr_id: int) -> HttpResponse:
    """The raw diff (or one file's part of it), as plain text: the escape hatch for large and odd diffs."""
    cr, _ = _get_change_request_for_user(request, cr_id)
    run = _shown_run(request, cr)
    path = request.GET.get("path", "")
    text = diffs.file_patch(run.diff, path) if path else run.diff
    if text is None:
        raise Http404("That file is not part of this change.")
    response = HttpResponse(text, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="change-{cr.pk}-run-{run.pk}.patch"'
    return response


@login_required
def merged_commit(request: HttpRequest, cr_id: int) -> HttpResponse:
    """The commit the merge put on the base branch, from the mirror (kept there under refs/slipway/merged/)."""
    cr, membership = _get_change_request_for_user(request, cr_id)
    if cr.status != CRStatus.MERGED or not cr.merge_commit:
        raise Http404("This change is not merged.")
    mirror = merging.mirror_for(cr.project)
    try:
        show = run_git(["--git-dir", str(mirror), "show", "-s", "--format=%H%n%P%n%an <%ae>%n%cn <%ce>%n%B", cr.merge_commit], allow_local=True)
        sha, parents, author, committer, *message = show.stdout.split("\n")
        first_parent = parents.split()[0] if parents else ""
        diff = run_git(["--git-dir", str(mirror), "diff", "--no-color", "--no-ext-diff", "--no-textconv", first_parent, sha]).stdout if first_parent else ""
    except GitError:
        raise Http404("The merge commit is no longer in this server's mirror.") from None
    context = {
        "nav": "projects", "cr": cr, "intent": cr.intent, "project": cr.project, "membership": membership,
        "sha": sha, "parents": parents.split(), "author": author, "committer": committer, "message": "\n".join(message).strip(),
        "diff": diffs.parse(diff), "commit_url": merge.commit_web_url(cr.project.repo_url, sha), "mode": "unified",
    }  # fmt: skip
    return render(request, "reviews/commit.html", context)


@login_required
def run_trajectory(request: HttpRequest, run_id: int) -> HttpResponse:
    """The run's trajectory as one JSONL record (OpenAI chat format, see agents.trajectory)."""
    run, _ = _get_run_for_user(request, run_id)
    if not run.trajectory:
        raise Http404("This run has no trajectory yet.")
    # Recorded redacted by the agent; redact again with the secrets the platform knows, in case.
    secrets = [run.project.credentials_token if run.project.has_credentials else "", run.model.api_key if run.model else ""]
    record = Redactor(secrets).deep(run.trajectory)
    response = HttpResponse(json.dumps(record, ensure_ascii=False) + "\n", content_type="application/jsonl; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="run-{run.pk}-trajectory.jsonl"'
    return response

