"""One subscription per process and run, shared by every socket watching the run.

A run's group messages would otherwise wake each socket's consumer one by one (Channels
hands every group member its own copy, through its own receive and dispatch): with 50
people on a busy run that machinery, not the work, was most of the cost. So in each web
process one ``RunLog`` joins the run's group, receives each message once, puts its events
in order (reading from the database any that were lost or overtaken), renders them once,
and hands the same HTML to every socket of the run here.

Rendering once is sound because an event's fragments depend only on the events before it:
they are the same for every viewer. The log keeps one fold that only moves forward.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Protocol

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from runs import live

log = logging.getLogger(__name__)

Row = live.Row
KEEP = 5_000  # events (and joined batches) kept rendered per run, for sockets that lag or reconnect


@dataclass(frozen=True)
class Delivery:
    """What a socket gets from the log: consecutive events, or news that the run changed."""

    first: int = 0
    last: int = 0
    html: str = ""
    rows: list[Row] = field(default_factory=list)
    changed: bool = False


CHANGED = Delivery(changed=True)


class Watcher(Protocol):
    def deliver(self, delivery: Delivery) -> None: ...


class RunLog:
    _logs: dict[int, RunLog] = {}

    def __init__(self, run_id: int) -> None:
        self.run_id = run_id
        self.group = f"run.{run_id}"
        self.fold = live.RunFold(run_id)
        self.ops: OrderedDict[int, list[live.Op]] = OrderedDict()
        self.joined: OrderedDict[tuple[int, int], str] = OrderedDict()
        self.lock = asyncio.Lock()
        self.watchers: set[Watcher] = set()
        self.delivered: int | None = None
        self.channel = ""
        self._listener: asyncio.Task[None] | None = None
        self._joined = asyncio.ensure_future(self._join())

    # -- who watches ---------------------------------------------------------------------

    @classmethod
    async def watch(cls, run_id: int, watcher: Watcher) -> RunLog:
        """The run's log, in its group by the time this returns: whatever is published from now
        on reaches ``watcher``. Read the database after this, not before."""
        run_log = cls._logs.get(run_id)
        if run_log is None:
            run_log = cls._logs[run_id] = RunLog(run_id)
        run_log.watchers.add(watcher)
        try:
            await asyncio.shield(run_log._joined)
        except Exception:
            await run_log.unwatch(watcher)
            raise
        return run_log

    async def unwatch(self, watcher: Watcher) -> None:
        """The last watcher out takes the log out of the group."""
        self.watchers.discard(watcher)
        if self.watchers or self._logs.get(self.run_id) is not self:
            return
        del self._logs[self.run_id]
        listener = self._listener
        if listener is not None and listener is not asyncio.current_task():
            listener.cancel()
            # Let it leave the layer's receive cleanly (the layer counts its receivers).
            await asyncio.gather(listener, return_exceptions=True)
        await self._leave()

    async def _join(self) -> None:
        layer = get_channel_layer()
        self.channel = await layer.new_channel()
        await layer.group_add(self.group, self.channel)
        self._listener = asyncio.ensure_future(self._listen())

    async def _leave(self) -> None:
        try:
            await asyncio.shield(self._joined)
            await get_channel_layer().group_discard(self.group, self.channel)
        except Exception:
            log.warning("leaving %s failed", self.group, exc_info=True)

    # -- messages ------------------------------------------------------------------------------

    async def _listen(self) -> None:
        layer = get_channel_layer()
        while True:
            try:
                message = await layer.receive(self.channel)
                await self._on(message)
            except asyncio.CancelledError:
                raise
            except Exception:
                # Redis away, or a message we cannot read: the sockets fill any gap from the
                # database when the next message comes.
                log.warning("run %s: a live message could not be handled", self.run_id, exc_info=True)
                await asyncio.sleep(1)

    async def _on(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "run.changed":
            delivery = CHANGED
        elif kind in ("run.event", "run.events"):
            rows = await self._in_order(message["events"] if kind == "run.events" else [message])
            if not rows:
                return
            delivery = Delivery(rows[0][0], rows[-1][0], await self.render(rows), rows)
            self.delivered = rows[-1][0]
        else:
            return
        for watcher in list(self.watchers):
            watcher.deliver(delivery)

    async def _in_order(self, events: list[dict[str, Any]]) -> list[Row]:
        """The message's events after the last one delivered, consecutive: a gap (a message lost
        or overtaken) is read from the database, which has every event before the last."""
        rows = sorted({int(e["seq"]): (int(e["seq"]), str(e["kind"]), e["payload"]) for e in events}.values())
        after = self.delivered
        if after is not None:
            rows = [row for row in rows if row[0] > after]
        if not rows:
            return []
        consecutive = all(b[0] == a[0] + 1 for a, b in zip(rows, rows[1:], strict=False))
        starts_right = after is None or rows[0][0] == after + 1
        if consecutive and starts_right:
            return rows
        start = rows[0][0] - 1 if after is None else after
        return await database_sync_to_async(live.events_after)(self.run_id, start, rows[-1][0])

    # -- rendering ----------------------------------------------------------------------------

    async def render(self, rows: list[Row]) -> str:
        """The fragments of consecutive events, in order, as one piece of a frame."""
        if not rows:
            return ""
        key = (rows[0][0], rows[-1][0])
        html = self.joined.get(key)
        if html is None:
            ops: list[live.Op] = []
            for seq, kind, payload in rows:
                rendered = self.ops.get(seq)
                ops += rendered if rendered is not None else await self._render(seq, kind, payload)
            html = live.join(ops)
            _remember(self.joined, key, html)
        return html

    async def _render(self, seq: int, kind: str, payload: dict[str, Any]) -> list[live.Op]:
        async with self.lock:
            if seq in self.ops:
                return self.ops[seq]
            if self.fold.last_seq >= seq:
                # Rendered once and forgotten since (a socket far behind): fold the run up to it again.
                fold = await database_sync_to_async(live.primed)(self.run_id, seq - 1)
                return fold.apply(seq, kind, payload)
            if self.fold.last_seq < seq - 1:
                # The first socket of this run here, or one ahead of the others: catch the fold up.
                rows = await database_sync_to_async(live.light_events)(self.run_id, seq - 1, self.fold.last_seq)
                for row in rows:
                    self.fold.apply(*row, render=False)
            ops = self.fold.apply(seq, kind, payload)
            _remember(self.ops, seq, ops)
            return ops


def _remember(cache: OrderedDict[Any, Any], key: Any, value: Any) -> None:
    cache[key] = value
    if len(cache) > KEEP:
        cache.popitem(last=False)
