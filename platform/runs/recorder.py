"""The agent's event sink inside the worker: persist first, then publish.

Every event becomes a ``RunEvent`` row with the run's next sequence number,
and only then goes to the run's channel group. Streamed fragments (message
deltas, command output chunks) are coalesced for up to ``FLUSH_INTERVAL``
so a chatty model or a flood of output costs a row per 50 ms, not per token.

The rows are written by a thread of the recorder's own, which takes every
event waiting and writes them in one transaction: a commit waits for the disk
(2 to 3 ms here), so one commit per event would cap a run at a few hundred
events a second, and the agent would wait on each. The sink itself only
numbers the event and queues it. ``close()`` waits until every event is
written and handed to the publisher, whose queue keeps the order: what the caller
announces next (the run's end) reaches browsers after them. Events after it are
written at once, by the caller.
"""

from __future__ import annotations

import logging
import threading
import time
from decimal import Decimal
from typing import Any

from django.db import connection, transaction

from agents.events import Event
from runs.broadcast import publish
from runs.models import AgentRun, RunEvent

log = logging.getLogger(__name__)

FLUSH_INTERVAL = 0.05
MAX_COALESCED = 32_768  # characters in one coalesced payload before it is written anyway
MAX_BATCH = 500  # rows in one transaction (and one message)

Row = tuple[int, str, dict[str, Any]]


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
        self._wake = threading.Condition(self._lock)
        self._pending: tuple[tuple[str, str], str, dict[str, Any], float] | None = None
        self._rows: list[Row] = []  # numbered, waiting for the writer
        self._interval = flush_interval
        self._closed = False
        self._failed: Exception | None = None
        self.last_write = 0.0
        self._writer = threading.Thread(target=self._work, name=f"events-{run.pk}", daemon=True)
        self._writer.start()

    # -- the sink -------------------------------------------------------------

    def __call__(self, event: Event) -> None:
        key = _coalesce_key(event)
        with self._lock:
            if self._failed is not None:
                raise self._failed
            if key is not None:
                text_field = "delta" if key[0] == "message" else "chunk"
                piece = str(event.payload.get(text_field, ""))
                if self._pending is not None and self._pending[0] == key and len(self._pending[1]) < MAX_COALESCED:
                    _, text, payload, since = self._pending
                    self._pending = (key, text + piece, payload, since)
                    return
                self._flush_locked()
                self._pending = (key, piece, dict(event.payload), time.monotonic())
                self._wake.notify()  # the writer times the flush of this fragment
                return
            self._flush_locked()
            self._add_locked(event.kind, event.payload)
        if event.kind == "usage":
            self._account(event.payload)

    def record(self, kind: str, **payload: Any) -> None:
        """An event of the platform's own (status of the pipeline, resumption, diff)."""
        self(Event(kind, payload))  # type: ignore[arg-type]

    def close(self) -> None:
        """Write everything so far and queue it for publishing (the run's end is announced next).

        It does not wait for Redis: a run's last events may wait up to one publishing slot
        (``broadcast.EVENTS_EVERY``), and a status message queued after them still follows them.
        """
        with self._lock:
            self._flush_locked()
            self._closed = True
            self._wake.notify()
        if self._writer.is_alive():
            self._writer.join()

    # -- internals ------------------------------------------------------------

    def _flush_locked(self) -> None:
        if self._pending is None:
            return
        (kind, _), text, payload, _ = self._pending
        self._pending = None
        payload["delta" if kind == "message" else "chunk"] = text
        self._add_locked(kind, payload)

    def _add_locked(self, kind: str, payload: dict[str, Any]) -> None:
        row = (self.next_seq, kind, payload)
        self.next_seq += 1
        if self._closed:  # the writer is gone: write it here, now
            self._write([row])
            return
        self._rows.append(row)
        self._wake.notify()

    def _work(self) -> None:
        from runs.pipeline import relax_durability

        relax_durability()  # this thread's own connection
        try:
            while True:
                with self._lock:
                    while not self._rows and not self._closed:
                        if self._pending is None:
                            self._wake.wait()
                            continue
                        due = self._pending[3] + self._interval - time.monotonic()
                        if due > 0:
                            self._wake.wait(due)
                        else:
                            self._flush_locked()
                    rows, self._rows = self._rows[:MAX_BATCH], self._rows[MAX_BATCH:]
                    if not rows and self._closed:
                        return
                try:
                    self._write(rows)
                except Exception as exc:
                    log.warning("writing events of run %s failed", self.run_id, exc_info=True)
                    with self._lock:
                        self._failed = exc  # the agent's next event raises it: the run fails loudly
                        self._rows = []
                    return
        finally:
            connection.close()  # this thread's own connection

    def _write(self, rows: list[Row]) -> None:
        with transaction.atomic():
            RunEvent.objects.bulk_create(
                [RunEvent(run_id=self.run_id, seq=seq, kind=kind, payload=payload) for seq, kind, payload in rows]
            )
        self.last_write = time.monotonic()
        # Committed, so the browser may hear of them now: one message for the batch (each message
        # costs every watching socket a wake-up). Publishing does not wait for Redis; the publisher
        # keeps the order.
        events = [{"seq": seq, "kind": kind, "payload": payload} for seq, kind, payload in rows]
        message = {"type": "run.event", **events[0]} if len(events) == 1 else {"type": "run.events", "events": events}
        try:
            publish(f"run.{self.run_id}", message)
        except Exception:  # best effort: the rows are committed, and sockets read gaps from them
            log.warning("publishing events of run %s failed", self.run_id, exc_info=True)

    def _account(self, payload: dict[str, Any]) -> None:
        AgentRun.objects.filter(pk=self.run_id).update(
            prompt_tokens=int(payload.get("total_prompt_tokens", 0)),
            completion_tokens=int(payload.get("total_completion_tokens", 0)),
            cost=Decimal(str(round(float(payload.get("total_cost", 0.0)), 6))),
        )
