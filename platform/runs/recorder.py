"""The agent's event sink inside the worker: persist first, then publish.

Every event becomes a ``RunEvent`` row with the run's next sequence number,
and only then goes to the run's channel group. Streamed fragments (message
deltas, command output chunks) are coalesced for up to ``FLUSH_INTERVAL``
so a chatty model or a flood of output costs a row per 50 ms, not per token.
"""

from __future__ import annotations

import logging
import threading
import time
from decimal import Decimal
from typing import Any

from django.db import connection

from agents.events import Event
from runs.broadcast import send_now
from runs.models import AgentRun, RunEvent

log = logging.getLogger(__name__)

FLUSH_INTERVAL = 0.05
MAX_COALESCED = 32_768  # characters in one coalesced payload before it is written anyway


def _coalesce_key(event: Event) -> tuple[str, str] | None:
    if event.kind == "message" and "delta" in event.payload:
        return ("message", "delta")
    if event.kind == "command_output":
        return ("command_output", str(event.payload.get("id", "")))
    return None


class EventRecorder:
    def __init__(self, run: AgentRun, *, flush_interval: float = FLUSH_INTERVAL) -> None:
        self.run_id = run.pk
        self.team_id = run.team_id
        last = RunEvent.objects.filter(run_id=run.pk).order_by("-seq").values_list("seq", flat=True).first()
        self.next_seq = (last or 0) + 1
        self._lock = threading.Lock()
        self._pending: tuple[tuple[str, str], str, dict[str, Any], float] | None = None
        self._interval = flush_interval
        self._closed = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name=f"events-{run.pk}", daemon=True)
        self._ticker.start()
        self.last_write = 0.0

    # -- the sink -------------------------------------------------------------

    def __call__(self, event: Event) -> None:
        key = _coalesce_key(event)
        with self._lock:
            if key is not None:
                text_field = "delta" if key[0] == "message" else "chunk"
                piece = str(event.payload.get(text_field, ""))
                if self._pending is not None and self._pending[0] == key and len(self._pending[1]) < MAX_COALESCED:
                    _, text, payload, since = self._pending
                    self._pending = (key, text + piece, payload, since)
                    return
                self._flush_locked()
                self._pending = (key, piece, dict(event.payload), time.monotonic())
                return
            self._flush_locked()
            self._write(event.kind, event.payload)
        if event.kind == "usage":
            self._account(event.payload)

    def record(self, kind: str, **payload: Any) -> None:
        """An event of the platform's own (status of the pipeline, resumption, diff)."""
        self(Event(kind, payload))  # type: ignore[arg-type]

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            self._flush_locked()

    # -- internals ------------------------------------------------------------

    def _tick(self) -> None:
        while not self._closed.wait(self._interval):
            with self._lock:
                if self._pending is not None and time.monotonic() - self._pending[3] >= self._interval:
                    try:
                        self._flush_locked()
                    except Exception:
                        log.warning("flushing events of run %s failed", self.run_id, exc_info=True)
        connection.close()  # this thread's own connection

    def _flush_locked(self) -> None:
        if self._pending is None:
            return
        (kind, _), text, payload, _ = self._pending
        self._pending = None
        payload["delta" if kind == "message" else "chunk"] = text
        self._write(kind, payload)

    def _write(self, kind: str, payload: dict[str, Any]) -> None:
        seq = self.next_seq
        RunEvent.objects.create(run_id=self.run_id, seq=seq, kind=kind, payload=payload)
        self.next_seq = seq + 1
        self.last_write = time.monotonic()
        # Autocommit: the row is committed, so the browser may hear of it now.
        send_now(f"run.{self.run_id}", {"type": "run.event", "seq": seq, "kind": kind, "payload": payload})

    def _account(self, payload: dict[str, Any]) -> None:
        AgentRun.objects.filter(pk=self.run_id).update(
            prompt_tokens=int(payload.get("total_prompt_tokens", 0)),
            completion_tokens=int(payload.get("total_completion_tokens", 0)),
            cost=Decimal(str(round(float(payload.get("total_cost", 0.0)), 6))),
        )
