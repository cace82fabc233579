"""State changes of agent runs: queueing, cancelling, retrying, plan approval."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from intents.models import Intent, Status
from runs import broadcast
from runs.models import FINISHED, AgentRun, ModelConfig, RunStatus


class QueueError(Exception):
    """The intent cannot be queued; the message says why and what to do."""


def resolve_model(intent: Intent) -> ModelConfig | None:
    return intent.model or intent.project.default_model or intent.team.default_model or (
        ModelConfig.objects.filter(team_id=intent.team_id).order_by("created_at").first()
    )


@transaction.atomic
def do_queue_intent(
    intent: Intent,
    actor: Any,
    *,
    kind: str = "implement",
    feedback: list[dict[str, Any]] | None = None,
    branch: str = "",
    round: int | None = None,
) -> list[AgentRun]:
    """Queue the intent: one run per attempt, dispatched to the workers after commit."""
    from intents.actions import do_set_status

    model = resolve_model(intent)
    if model is None:
        raise QueueError("No model is configured for this team: add one under Team → Models first.")
    if intent.status != Status.QUEUED:
        do_set_status(intent, Status.QUEUED, actor)
    attempts = 1 if kind != "implement" else intent.attempts
    last_round = AgentRun.objects.filter(intent=intent).aggregate(n=Max("round"))["n"] or 0
    current_round = round or last_round + 1
    runs = [
        AgentRun.objects.create(
            intent=intent,
            team_id=intent.team_id,
            project_id=intent.project_id,
            attempt=attempt,
            round=current_round,
            kind=kind,
            priority=intent.priority,
            model=model,
            model_name=model.model,
            seed=attempt,
            branch=branch,
            feedback=feedback or [],
            approved_plan="",
        )
        for attempt in range(1, attempts + 1)
    ]
    for run in runs:
        broadcast.run_changed(run)
    from runs.dispatch import dispatch_on_commit

    dispatch_on_commit()
    return runs


@transaction.atomic
def do_save_model_config(team: Any, actor: Any, config: ModelConfig, *, api_key: str, clear_key: bool, make_default: bool) -> ModelConfig:
    from accounts import audit

    creating = config.pk is None
    config.team = team
    if clear_key:
        config.api_key_encrypted = ""
    elif api_key:
        config.set_api_key(api_key)
    config.save()
    if make_default and team.default_model_id != config.pk:
        team.default_model = config
        team.save(update_fields=["default_model"])
    elif not make_default and team.default_model_id == config.pk:
        team.default_model = None
        team.save(update_fields=["default_model"])
    # Never the key itself, only whether one is stored.
    after = {
        "name": config.name,
        "provider": config.provider,
        "base_url": config.base_url,
        "model": config.model,
        "has_api_key": bool(config.api_key_encrypted),
        "default": make_default,
    }
    audit.record(team, actor, "model.create" if creating else "model.update", config, f"model {config.name}", after=after)
    return config


@transaction.atomic
def do_cancel_intent(intent: Intent, actor: Any) -> None:
    """Cancel the intent and all its unfinished runs: queued ones at once, running ones between steps."""
    from intents.actions import do_set_status

    for run in AgentRun.objects.select_for_update().filter(intent=intent).exclude(status__in=list(FINISHED)):
        _cancel_run(run)
    do_set_status(intent, Status.CANCELLED, actor)


def _cancel_run(run: AgentRun) -> None:
    if run.status in (RunStatus.QUEUED, RunStatus.AWAITING_PLAN):
        # Not running anywhere: end it now. A task already in the broker finds no claimable run.
        run.status = RunStatus.CANCELLED
        run.outcome = "cancelled"
        run.reason = "cancelled before it ran" if run.started_at is None else "cancelled"
        run.finished_at = timezone.now()
        run.lease = ""
        run.cancel_requested = True
        run.save(update_fields=["status", "outcome", "reason", "finished_at", "lease", "cancel_requested"])
        broadcast.run_changed(run)
    elif run.status == RunStatus.RUNNING:
        # The worker's heartbeat sees the flag, stops the sandbox and ends the run at its next step.
        run.cancel_requested = True
        run.save(update_fields=["cancel_requested"])
        broadcast.send_on_commit(f"run.{run.pk}", {"type": "run.changed", "run": run.pk, "status": run.status})


@transaction.atomic
def do_cancel_run(run: AgentRun, actor: Any) -> None:
    """Cancel one attempt; when it was the intent's last unfinished run, the intent follows."""
    from accounts import audit

    locked = AgentRun.objects.select_for_update().get(pk=run.pk)
    if locked.status in FINISHED:
        return
    _cancel_run(locked)
    audit.record(locked.team, actor, "run.cancel", locked, f"cancelled run {locked.pk} of #{locked.intent_id}")
    if locked.status == RunStatus.CANCELLED:
        from runs.rounds import finish_round

        transaction.on_commit(lambda: finish_round(locked.intent_id, locked.round))


@transaction.atomic
def do_approve_plan(run: AgentRun, actor: Any, plan: str) -> AgentRun:
    """A person approved (maybe edited) the plan: the run is queued again and resumes where it stopped."""
    from accounts import audit

    locked = AgentRun.objects.select_for_update().get(pk=run.pk)
    if locked.status != RunStatus.AWAITING_PLAN:
        raise QueueError("This run is not waiting for a plan approval.")
    locked.approved_plan = plan
    locked.status = RunStatus.QUEUED
    locked.dispatched_at = None
    locked.lease = ""
    locked.save(update_fields=["approved_plan", "status", "dispatched_at", "lease"])
    edited = plan.strip() != locked.plan.strip()
    audit.record(locked.team, actor, "run.approve_plan", locked, f"approved the plan of run {locked.pk}" + (" (edited)" if edited else ""))
    broadcast.run_changed(locked)
    from runs.dispatch import dispatch_on_commit

    dispatch_on_commit()
    return locked


@transaction.atomic
def do_retry_run(run: AgentRun, actor: Any) -> AgentRun:
    """Start a failed or cancelled attempt again, as a new run of the same round."""
    from intents.actions import do_set_status

    if run.status not in (RunStatus.FAILED, RunStatus.CANCELLED):
        raise QueueError("Only a failed or cancelled run can be retried.")
    intent = Intent.objects.select_for_update().get(pk=run.intent_id)
    if intent.status not in (Status.FAILED, Status.CANCELLED, Status.RUNNING, Status.QUEUED):
        raise QueueError(f"The intent is {intent.get_status_display().lower()}: there is nothing to retry.")
    model = resolve_model(intent)
    if model is None:
        raise QueueError("No model is configured for this team: add one under Team → Models first.")
    if intent.status in (Status.FAILED, Status.CANCELLED):
        do_set_status(intent, Status.QUEUED, actor)
    retry = AgentRun.objects.create(
        intent=intent,
        team_id=intent.team_id,
        project_id=intent.project_id,
        attempt=run.attempt,
        round=run.round,
        kind=run.kind,
        priority=intent.priority,
        model=model,
        model_name=model.model,
        seed=run.seed,
        branch=run.branch if run.kind != "implement" else "",
        feedback=run.feedback,
    )
    broadcast.run_changed(retry)
    from runs.dispatch import dispatch_on_commit

    dispatch_on_commit()
    return retry
