from __future__ import annotations

from typing import Any

from django.db import models

from accounts.models import AuditEntry, Team


def record(
    team: Team,
    actor: Any,
    action: str,
    target: models.Model | None = None,
    summary: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Write one audit entry. Call it inside the action's transaction."""
    return AuditEntry.objects.create(
        team=team,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        summary=summary[:300],
        before=before,
        after=after,
    )
