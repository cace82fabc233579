"""Change requests: proposing an agent's result for review, and the decisions on it."""

from __future__ import annotations

from django.db import transaction

from intents.models import Intent, Status
from reviews.models import ChangeRequest, CRStatus
from runs import broadcast
from runs.models import AgentRun


@transaction.atomic
def do_propose(intent: Intent, run: AgentRun) -> ChangeRequest:
    """Open the intent's change request with ``run``, or move it to this newer round."""
    from intents.actions import do_set_status

    cr = ChangeRequest.objects.select_for_update().filter(intent=intent).first()
    if cr is None:
        cr = ChangeRequest.objects.create(
            intent=intent,
            team_id=intent.team_id,
            project_id=intent.project_id,
            run=run,
            branch=run.branch,
            base_branch=intent.project.default_branch,
            base_sha=run.base_sha,
            head_sha=run.head_sha,
            rounds=run.round,
        )
    else:
        cr.run = run
        cr.branch = run.branch
        cr.base_sha = run.base_sha
        cr.head_sha = run.head_sha
        cr.rounds = max(cr.rounds, run.round)
        cr.status = CRStatus.OPEN
        cr.approved_at = None
        cr.approved_by = None
        cr.save()
    do_set_status(intent, Status.IN_REVIEW)
    broadcast.send_on_commit(f"team.{intent.team_id}", {"type": "team.changed"})
    return cr
