"""State changes for teams and memberships. Each is atomic and audited."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from accounts import audit
from accounts.models import Membership, Role, Team


class MembershipError(Exception):
    pass


@transaction.atomic
def do_create_team(user: User, name: str) -> Team:
    team = Team.objects.create(name=name)
    Membership.objects.create(team=team, user=user, role=Role.OWNER)
    audit.record(team, user, "team.create", team, f"created team {name}")
    return team


@transaction.atomic
def do_add_member(team: Team, actor: Any, user: User, role: str) -> Membership:
    if Membership.objects.filter(team=team, user=user).exists():
        raise MembershipError(f"{user.username} is already a member of {team.name}.")
    membership = Membership.objects.create(team=team, user=user, role=role)
    audit.record(team, actor, "member.add", membership, f"added {user.username} as {role}", after={"role": role})
    return membership


def _owners_left_without(membership: Membership) -> int:
    return (
        Membership.objects.select_for_update()
        .filter(team_id=membership.team_id, role=Role.OWNER)
        .exclude(pk=membership.pk)
        .count()
    )


@transaction.atomic
def do_change_role(actor: Any, membership: Membership, role: str) -> None:
    before = membership.role
    if before == role:
        return
    if before == Role.OWNER and _owners_left_without(membership) == 0:
        raise MembershipError("A team needs at least one owner: make someone else an owner first.")
    membership.role = role
    membership.save(update_fields=["role"])
    audit.record(
        membership.team,
        actor,
        "member.role",
        membership,
        f"{membership.user.username}: {before} → {role}",
        before={"role": before},
        after={"role": role},
    )


@transaction.atomic
def do_remove_member(actor: Any, membership: Membership) -> None:
    if membership.role == Role.OWNER and _owners_left_without(membership) == 0:
        raise MembershipError("A team needs at least one owner: make someone else an owner first.")
    audit.record(
        membership.team,
        actor,
        "member.remove",
        membership,
        f"removed {membership.user.username}",
        before={"role": membership.role},
    )
    membership.delete()
