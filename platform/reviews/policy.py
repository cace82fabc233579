"""Who may decide on a change request, and what must be true before it merges.

The rule for the agent: decisions are made by people. A decision needs an
authenticated, active account that is a member of the team (role member or
above) and is not the agent's identity. The agent commits as
``AGENT_EMAIL``; an account with that address is the agent's, whatever its
role, and can neither approve nor merge nor request changes. No run, task or
API path decides anything: every ``do_*`` decision takes the person from the
request, and refuses anything else (a run, None, an anonymous user).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied

from accounts.models import ROLE_RANK, Membership, Role
from agents.workspace import AGENT_EMAIL
from intents.models import ACTIVE, Status
from reviews.models import ChangeRequest, CRStatus, Decision, Review


class ReviewError(Exception):
    """A decision that cannot be taken now; the message says why, for the person who tried."""


def is_agent_identity(user: Any) -> bool:
    return (getattr(user, "email", "") or "").strip().lower() == AGENT_EMAIL


def require_person(cr: ChangeRequest, actor: Any, doing: str) -> Membership:
    """The actor's membership, when the actor is a person in the team who may ``doing``; else refuse."""
    if not getattr(actor, "is_authenticated", False) or not getattr(actor, "is_active", False):
        raise ReviewError(f"Only a signed-in person can {doing}.")
    if is_agent_identity(actor):
        raise ReviewError(f"The agent wrote this change; it cannot {doing}.")
    membership = Membership.objects.filter(user=actor, team_id=cr.team_id).first()
    if membership is None:
        raise PermissionDenied
    if not membership.can(Role.MEMBER):
        raise PermissionDenied(f"Only a team member or above can {doing}.")
    return membership


# The intent statuses in which the proposed change is the one to decide on. After a failed round the
# change stays proposed, and may be sent back again (or closed), but not approved or merged as if
# nothing had happened.
DECIDABLE = frozenset({Status.IN_REVIEW, Status.APPROVED})


def require_open(cr: ChangeRequest, *, after_failure: bool = False) -> None:
    """Refuse a decision on a change request that is settled, being worked on, or whose intent moved on."""
    if not cr.is_open:
        raise ReviewError(f"This change request is {cr.get_status_display().lower()}.")
    intent = cr.intent
    if intent.status in ACTIVE:
        raise ReviewError("An agent is working on the next round of this change: wait for it to finish.")
    if intent.status == Status.FAILED and after_failure:
        return
    if intent.status not in DECIDABLE:
        if intent.status == Status.FAILED:
            raise ReviewError("The last round failed: request changes again, or close the change request.")
        raise ReviewError(f"The intent is {intent.get_status_display().lower()}: there is nothing to decide.")


def current_approvals(cr: ChangeRequest) -> list[Review]:
    """Approvals of the commit now proposed, by people who are still members."""
    reviews = Review.objects.filter(change_request=cr, decision=Decision.APPROVE, head_sha=cr.head_sha).select_related("reviewer")
    roles = dict(Membership.objects.filter(team_id=cr.team_id).values_list("user_id", "role"))
    return [r for r in reviews if r.reviewer_id in roles and ROLE_RANK[Role(roles[r.reviewer_id])] >= ROLE_RANK[Role.MEMBER]]


def approval_counts(cr: ChangeRequest, reviewer: Any) -> bool:
    """Whether an approval by ``reviewer`` meets the project's rule on its own."""
    if not cr.project.require_maintainer_approval:
        return True
    role = Membership.objects.filter(team_id=cr.team_id, user=reviewer).values_list("role", flat=True).first()
    return role is not None and ROLE_RANK[Role(role)] >= ROLE_RANK[Role.MAINTAINER]


def approved(cr: ChangeRequest) -> bool:
    """The proposed commit has the approval the project asks for."""
    return any(approval_counts(cr, r.reviewer) for r in current_approvals(cr))


def merge_blockers(cr: ChangeRequest) -> list[str]:
    """Why the change cannot be merged as it stands (empty when it can); role checks are separate."""
    if cr.status == CRStatus.MERGED:
        return ["This change is already merged."]
    if cr.status == CRStatus.CLOSED:
        return ["This change request is closed."]
    reasons = []
    if cr.intent.status in ACTIVE:
        reasons.append("An agent is working on the next round of this change.")
    elif cr.intent.status not in DECIDABLE:
        reasons.append(f"The intent is {cr.intent.get_status_display().lower()}.")
    project = cr.project
    if project.require_maintainer_approval and not approved(cr):
        reasons.append("The project requires a maintainer's approval of this version before it is merged.")
    if project.require_passing_tests and cr.run.resolved is not True:
        if cr.run.resolved is None:
            reasons.append("The project requires passing tests, and this change has no test result.")
        else:
            reasons.append("The project requires passing tests, and the tests did not pass after this change.")
    return reasons
