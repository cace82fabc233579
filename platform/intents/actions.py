"""State changes of intents. Atomic; anything that tells others happens on commit."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from accounts import audit
from intents.models import Comment, Intent, Status
from projects.models import Project
from projects.queries import forget_filter_choices


@transaction.atomic
def do_file_intent(project: Project, author: Any, intent: Intent, *, queue: bool) -> Intent:
    intent.project = project
    intent.team_id = project.team_id
    intent.author = author
    intent.status = Status.DRAFT
    intent.save()
    forget_filter_choices(project)
    if queue:
        from runs.actions import do_queue_intent

        do_queue_intent(intent, author)
    return intent


@transaction.atomic
def do_update_intent(intent: Intent) -> Intent:
    intent.save()
    forget_filter_choices(intent.project)
    return intent


@transaction.atomic
def do_comment(intent: Intent, author: Any, body: str) -> Comment:
    return Comment.objects.create(intent=intent, author=author, body=body)


@transaction.atomic
def do_set_status(intent: Intent, target: str, actor: Any = None, reason: str = "") -> Intent:
    """Move an intent through its status machine (illegal moves raise) and tell watchers on commit."""
    locked = Intent.objects.select_for_update().get(pk=intent.pk)
    if locked.status == target:
        return locked
    before = locked.status
    locked.transition(target)
    fields = ["status", "status_changed_at", "merged_at", "updated_at"]
    if target == Status.FAILED:
        locked.failure_reason = reason[:5000]
        fields.append("failure_reason")
    locked.save(update_fields=fields)
    if target == Status.CANCELLED and actor is not None:
        audit.record(locked.team, actor, "intent.cancel", locked, f"cancelled #{locked.pk} {locked.title}", {"status": before}, {"status": target})
    from runs.broadcast import intent_changed

    intent_changed(locked)
    intent.status = locked.status
    return locked
