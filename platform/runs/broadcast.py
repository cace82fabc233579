"""Tell browsers what changed, after the change is committed.

Messages are small and high level; the database stays the source of truth.
Groups and the messages sent to them (``type`` names the consumer's handler):

- ``run.<id>``: ``run.event`` {seq, kind, payload} for one committed ``RunEvent``,
  ``run.events`` {events: [{seq, kind, payload}, ...]} for several in a row (the
  publisher merges a backlog into one message), ``run.changed`` {run, status}.
- ``project.<id>``: ``intent.changed`` {intent, status} (the board).
- ``team.<id>``: ``team.changed`` {} (the dashboard).

Every message of a process goes out through one publisher: a thread with its own
event loop, so the Redis connections stay open (a fresh loop per message cost
3 ms, more than writing the row) and messages leave in the order they were given.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import logging
import os
import threading
from collections import deque
from typing import Any

from channels.layers import get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)

SEND_TIMEOUT = 5.0
MAX_MERGED = 2_000  # events in one merged run.events message
EVENTS_EVERY = 0.03  # seconds between two messages of a run's events, under a flood


class Publisher:
    """Sends group messages from any thread, in order, on a loop of its own."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._items: deque[tuple[str, dict[str, Any], concurrent.futures.Future[None]]] = deque()
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._wake = asyncio.Event()
        self._scheduled = False
        self._next: dict[str, float] = {}  # loop time from which a group may have its next events
        self.last: concurrent.futures.Future[None] | None = None
        started = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(started,), name="broadcast", daemon=True)
        self._thread.start()
        started.wait()

    def publish(self, group: str, message: dict[str, Any]) -> concurrent.futures.Future[None]:
        """Queue the message; the future completes once Redis has it."""
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        with self._lock:
            self._items.append((group, message, future))
            self.last = future
            wake = not self._scheduled
            self._scheduled = True
        if wake:
            self._loop.call_soon_threadsafe(self._wake.set)
        return future

    def flush(self, timeout: float = SEND_TIMEOUT) -> None:
        last = self.last
        if last is not None:
            concurrent.futures.wait([last], timeout=timeout)

    def _run(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.call_soon(started.set)
        self._loop.run_until_complete(self._drain())

    async def _drain(self) -> None:
        # A run's events wait for their group's next slot (one message per EVENTS_EVERY at most):
        # every message wakes every socket watching the run, so a flood is sent as a few large
        # messages, not thousands of small ones. The first event after a quiet spell goes at once.
        held: list[tuple[str, dict[str, Any], concurrent.futures.Future[None]]] = []
        loop = asyncio.get_running_loop()
        while True:
            if held:
                due = min(self._next.get(group, 0.0) for group, _, _ in held) - loop.time()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=max(due, 0.0))
            else:
                await self._wake.wait()
            self._wake.clear()
            with self._lock:
                held += self._items
                self._items.clear()
                self._scheduled = False
            now = loop.time()
            # A group goes now when its slot has come, or when something other than events waits
            # behind its events (a change of status must not wait, nor overtake them).
            going = {
                group
                for group, message, _ in held
                if now >= self._next.get(group, 0.0) or _events(message) is None
            }
            sending = [item for item in held if item[0] in going]
            held = [item for item in held if item[0] not in going]
            for group, message, futures in merged(sending):
                if _events(message) is not None:
                    self._next[group] = now + EVENTS_EVERY
                await self._send(group, message, futures)

    async def _send(self, group: str, message: dict[str, Any], futures: list[concurrent.futures.Future[None]]) -> None:
        try:
            layer = get_channel_layer()
            if layer is not None:
                await layer.group_send(group, message)
        except Exception as exc:  # a broadcast is best effort: the rows are already committed
            log.warning("broadcast to %s failed", group, exc_info=True)
            for future in futures:
                future.set_exception(exc)
        else:
            for future in futures:
                future.set_result(None)


def merged(
    batch: list[tuple[str, dict[str, Any], concurrent.futures.Future[None]]],
) -> list[tuple[str, dict[str, Any], list[concurrent.futures.Future[None]]]]:
    """Consecutive run events for one group become one ``run.events`` message; order is kept."""
    out: list[tuple[str, dict[str, Any], list[concurrent.futures.Future[None]]]] = []
    for group, message, future in batch:
        events = _events(message)
        if events is not None and out and out[-1][0] == group:
            earlier = _events(out[-1][1])
            if earlier is not None and len(earlier) + len(events) <= MAX_MERGED:
                out[-1] = (group, {"type": "run.events", "events": earlier + events}, [*out[-1][2], future])
                continue
        out.append((group, message, [future]))
    return out


def _events(message: dict[str, Any]) -> list[dict[str, Any]] | None:
    if message.get("type") == "run.event":
        return [{"seq": message["seq"], "kind": message["kind"], "payload": message["payload"]}]
    if message.get("type") == "run.events":
        return list(message["events"])
    return None


_publisher: Publisher | None = None
_publisher_lock = threading.Lock()


def publisher() -> Publisher:
    """This process's publisher (a forked worker child starts its own)."""
    global _publisher
    with _publisher_lock:
        if _publisher is None or _publisher.pid != os.getpid():
            _publisher = Publisher()
            atexit.register(_publisher.flush, 2.0)
        return _publisher


def publish(group: str, message: dict[str, Any]) -> concurrent.futures.Future[None]:
    """Send without waiting (the recorder's path: a flood of events must not wait on Redis)."""
    return publisher().publish(group, message)


def send_on_commit(group: str, message: dict[str, Any]) -> None:
    """Queue the message once the transaction commits. Nothing waits for Redis: the publisher keeps
    the order, logs a failure, and the rows are committed either way (a socket reads them back)."""
    transaction.on_commit(lambda: publish(group, message))


def intent_changed(intent: Any) -> None:
    message = {"type": "intent.changed", "intent": intent.pk, "status": intent.status}
    send_on_commit(f"project.{intent.project_id}", message)
    send_on_commit(f"team.{intent.team_id}", {"type": "team.changed"})


def run_changed(run: Any) -> None:
    message = {"type": "run.changed", "run": run.pk, "status": run.status}
    send_on_commit(f"run.{run.pk}", message)
    send_on_commit(f"team.{run.team_id}", {"type": "team.changed"})
