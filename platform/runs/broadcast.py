"""Tell browsers what changed, after the change is committed.

Messages are small and high level; the database stays the source of truth.
Groups: ``run.<id>`` (a run's events), ``project.<id>`` (its board) and
``team.<id>`` (the dashboard).
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)


def send_now(group: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception:  # a broadcast is best effort: the rows are already committed
        log.warning("broadcast to %s failed", group, exc_info=True)


def send_on_commit(group: str, message: dict[str, Any]) -> None:
    transaction.on_commit(lambda: send_now(group, message))


def intent_changed(intent: Any) -> None:
    message = {"type": "intent.changed", "intent": intent.pk, "status": intent.status}
    send_on_commit(f"project.{intent.project_id}", message)
    send_on_commit(f"team.{intent.team_id}", {"type": "team.changed"})


def run_changed(run: Any) -> None:
    message = {"type": "run.changed", "run": run.pk, "status": run.status}
    send_on_commit(f"run.{run.pk}", message)
    send_on_commit(f"team.{run.team_id}", {"type": "team.changed"})
