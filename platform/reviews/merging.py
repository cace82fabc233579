"""Merging a change request, checking that it still applies, and deleting its branches.

The git work (``reviews.merge``) runs in the request, under the change
request's row lock: a second click waits, then finds the change merged. What a
failed merge found (conflicting files, a base that moved, a refused push) is
kept on the change request, so the page goes on saying it until the next round.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts import audit
from agents.git import GitCredentials, GitError
from agents.workspace import MirrorCache
from intents.models import Status
from projects.models import Project
from reviews import merge
from reviews.actions import record_verdict_on_commit
from reviews.models import ChangeRequest, CRStatus
from reviews.policy import ReviewError, current_approvals, merge_blockers, require_person
from runs import broadcast

log = logging.getLogger(__name__)


def mirror_for(project: Project) -> Path:
    """The project's mirror, kept by the workers (see ``runs.pipeline.prepare``): the runs' commits are there."""
    return MirrorCache(Path(settings.SLIPWAY_MIRROR_DIR)).mirror_path(f"project-{project.pk}")


def target_for(project: Project, branch: str) -> merge.Target:
    credentials = None
    if project.has_credentials:
        credentials = GitCredentials(project.credentials_username or "x-access-token", project.credentials_token)
    return merge.Target(url=project.repo_url, branch=branch, credentials=credentials, allow_local=settings.SLIPWAY_ALLOW_LOCAL_REPOS)


def person(user: Any) -> merge.Person:
    return merge.Person(name=user.get_full_name() or user.get_username(), email=user.email or f"{user.get_username()}@slipway.invalid")


def merge_message(cr: ChangeRequest, strategy: str) -> str:
    intent = cr.intent
    approvers = ", ".join(sorted({f"{r.reviewer.get_username()}" for r in current_approvals(cr)}))
    trailers = f"Intent-Id: {intent.pk}\nChange-Request: {cr.pk}" + (f"\nApproved-by: {approvers}" if approvers else "")
    if strategy == "squash":
        summary = (cr.run.summary or "").strip()
        return f"{intent.title}\n\n{summary}\n\n{trailers}" if summary else f"{intent.title}\n\n{trailers}"
    return f"Merge {cr.branch} into {cr.base_branch}: {intent.title}\n\n{trailers}"


def do_merge(cr: ChangeRequest, actor: Any, strategy: str) -> merge.MergeResult:
    """Merge the proposed commit into the base branch and push it; the intent becomes ``merged``.

    Raises ``ReviewError`` when the project's rules say no, ``merge.MergeError`` (and its
    kinds) when git does; that finding is then saved on the change request.
    """
    from intents.actions import do_set_status

    failure: merge.MergeError
    with transaction.atomic():
        locked = _lock(cr)
        require_person(locked, actor, "merge a change")
        blockers = merge_blockers(locked)
        if blockers:
            raise ReviewError(blockers[0])
        if strategy not in merge.STRATEGIES:
            raise ReviewError("Choose a merge commit, a squash or a fast-forward.")
        before = {"status": locked.status, "intent": locked.intent.status, "base": locked.base_branch}
        try:
            result = _run_merge(locked, actor, strategy, push=True)
        except merge.MergeError as exc:
            failure = exc
        else:
            now = timezone.now()
            locked.status = CRStatus.MERGED
            locked.merged_at = now
            locked.merged_by = actor
            locked.merge_strategy = strategy
            locked.merge_commit = result.commit
            locked.clear_merge_check()
            if locked.approved_by is None:
                locked.approved_by, locked.approved_at = actor, now  # merging is the deciding person's approval
            locked.save()
            do_set_status(locked.intent, Status.MERGED, actor)
            after = {"status": locked.status, "intent": Status.MERGED, "base": locked.base_branch, "strategy": strategy,
                     "commit": result.commit, "base_before": result.base_sha, "head": locked.head_sha}  # fmt: skip
            audit.record(locked.team, actor, "review.merge", locked, f"merged #{locked.intent_id} into {locked.base_branch} ({strategy})", before, after)
            record_verdict_on_commit(locked.run_id)
            _changed(locked)
            return result
    _record_failure(cr, actor, strategy, failure)
    raise failure


def do_check_merge(cr: ChangeRequest, actor: Any, strategy: str) -> merge.MergeResult | None:
    """Try the merge without pushing, against the base as it is now; keep what it found on the change request."""
    require_person(cr, actor, "check a change")
    try:
        result = _run_merge(cr, actor, strategy if strategy in merge.STRATEGIES else cr.project.merge_strategy, push=False)
    except merge.MergeError as exc:
        _record_failure(cr, actor, strategy, exc, audited=False)
        return None
    ChangeRequest.objects.filter(pk=cr.pk).update(
        checked_at=timezone.now(), checked_base_sha=result.base_sha, conflict_files=[], merge_error=""
    )
    return result


def do_delete_branch(cr: ChangeRequest, actor: Any) -> list[str]:
    """After a merge (or a close): delete the runs' branches, in the mirror and in the linked repository."""
    require_person(cr, actor, "delete a branch")
    if cr.is_open:
        raise ReviewError("The branch is still under review: merge or close the change first.")
    branches = set(cr.intent.runs.exclude(branch="").values_list("branch", flat=True)) | {cr.branch}
    try:
        deleted = merge.delete_branches(mirror_for(cr.project), target_for(cr.project, cr.base_branch), branches)
    except (GitError, ValueError) as exc:
        raise merge.MergeError(str(exc)) from None
    with transaction.atomic():
        locked = _lock(cr)
        locked.branch_deleted_at = timezone.now()
        locked.save(update_fields=["branch_deleted_at", "updated_at"])
        audit.record(locked.team, actor, "review.delete_branch", locked, f"deleted the branches of #{locked.intent_id}",
                     {"branches": sorted(branches)}, {"deleted": deleted})  # fmt: skip
    return deleted


# -- helpers -----------------------------------------------------------------------------


def _run_merge(cr: ChangeRequest, actor: Any, strategy: str, *, push: bool) -> merge.MergeResult:
    return merge.merge_into_base(
        mirror_for(cr.project),
        target_for(cr.project, cr.base_branch),
        cr.head_sha,
        strategy,
        message=merge_message(cr, strategy),
        merger=person(actor),
        scratch=Path(settings.SLIPWAY_WORKSPACE_DIR),
        push=push,
        keep_ref=f"refs/slipway/merged/{cr.pk}" if push else None,
    )


@transaction.atomic
def _record_failure(cr: ChangeRequest, actor: Any, strategy: str, failure: merge.MergeError, *, audited: bool = True) -> None:
    locked = _lock(cr)
    locked.checked_at = timezone.now()
    locked.checked_base_sha = getattr(failure, "base_sha", "")
    locked.conflict_files = list(getattr(failure, "files", []))
    locked.merge_error = str(failure)
    locked.save(update_fields=["checked_at", "checked_base_sha", "conflict_files", "merge_error", "updated_at"])
    if audited:
        audit.record(locked.team, actor, "review.merge_failed", locked, f"merging #{locked.intent_id} failed",
                     None, {"strategy": strategy, "error": str(failure)[:500], "conflicts": locked.conflict_files})  # fmt: skip
    log.info("merge of change request %s failed: %s", cr.pk, failure)
    _changed(locked)


def _lock(cr: ChangeRequest) -> ChangeRequest:
    return ChangeRequest.objects.select_for_update().select_related("intent", "project", "team", "run").get(pk=cr.pk)


def _changed(cr: ChangeRequest) -> None:
    broadcast.send_on_commit(f"team.{cr.team_id}", {"type": "team.changed"})
