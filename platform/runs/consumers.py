"""Websocket consumers: a run's steps, a project's board and a team's dashboard, live.

Each one checks the user before it joins a group (an outsider's socket is closed
before it opens), joins the group *before* it reads the database, and sends HTML
fragments that htmx swaps in by element id. What goes out is gathered for up to
``FLUSH_INTERVAL`` into one frame, so a flood of events costs the browser one swap
per tick, not one per event. (A run's socket joins through the process's RunLog of
the run: see runs.stream.)

The run stream is a feed of rows that already exist: on connect it sends the
events after the client's last sequence number (``?after=N``) from the database,
then live ones, skipping any it has sent (the backlog and the first live messages
overlap) and reading any it missed from the database (a gap means a message was
lost or overtaken), so the browser sees every event once, in order.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from runs import live, live_team
from runs.models import FINISHED, AgentRun, RunEvent
from runs.stream import Delivery, RunLog

log = logging.getLogger(__name__)

FLUSH_INTERVAL = 0.03
MAX_FRAME = 256 * 1024  # characters: a long backlog goes out in several frames
REFRESH_INTERVAL = 0.25  # board and dashboard: many changes in a burst, one refresh

Row = live.Row


class LiveConsumer(AsyncWebsocketConsumer):
    """Permission, then group, then state; outgoing fragments batched per FLUSH_INTERVAL."""

    group = ""

    async def connect(self) -> None:
        self.joined = False
        self._out: list[str] = []
        self._size = 0
        self._timer: asyncio.TimerHandle | None = None
        self._last_flush = 0.0
        self._send_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self.query = {k: v[-1] for k, v in parse_qs(self.scope.get("query_string", b"").decode()).items()}
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not await self.authorize(user):
            await self.close()
            return
        # Join first, read second: whatever happens after the read is already on its way to us.
        await self.join()
        self.joined = True
        try:
            await self.accept()
            await self.start()
        except BaseException:
            self.joined = False
            await self.leave()
            raise

    async def disconnect(self, code: int) -> None:
        self.gone = True
        if self._timer is not None:
            self._timer.cancel()
        for task in list(self._tasks):
            task.cancel()
        if self.joined:
            await self.leave()

    async def hang_up(self, code: int) -> None:
        await self.close(code=code)
        if self.joined:  # hear nothing more, whenever the disconnect comes
            self.joined = False
            await self.leave()

    async def join(self) -> None:
        await self.channel_layer.group_add(self.group, self.channel_name)

    async def leave(self) -> None:
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def dispatch(self, message: dict[str, Any]) -> None:
        if message["type"].startswith("websocket."):
            await super().dispatch(message)
            return
        # Channels closes stale database connections before every message, a hop to its one
        # sync thread each time, which a burst of changes makes every socket queue for. These
        # handlers reach the database only through database_sync_to_async, which closes stale
        # connections itself.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"no handler for message type {message['type']}")
        await handler(message)

    async def authorize(self, user: Any) -> bool:
        raise NotImplementedError

    async def start(self) -> None:
        raise NotImplementedError

    # -- batching ----------------------------------------------------------------------

    def queue(self, html: str) -> None:
        if not html:
            return
        self._out.append(html)
        self._size += len(html)
        if self._size >= MAX_FRAME:
            self._spawn(self.flush())
        elif self._timer is None:
            loop = asyncio.get_running_loop()
            # The first fragment after a quiet spell goes at once; a burst waits for the next tick.
            wait = max(0.0, self._last_flush + FLUSH_INTERVAL - loop.time())
            self._timer = loop.call_later(wait, lambda: self._spawn(self.flush()))

    def trailer(self) -> str:
        return ""

    async def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._out:
            return
        # The frame is cut now, in order; the lock keeps frames in the order they were cut.
        frame = "".join(self._out) + self.trailer()
        self._out, self._size = [], 0
        self._last_flush = asyncio.get_running_loop().time()
        async with self._send_lock:
            await self.send(text_data=frame)

    def _spawn(self, work: Any) -> None:
        async def guarded() -> None:
            try:
                await work
            except Exception:
                # A frame cut as the browser left has nowhere to go; anything else is worth a log.
                if not getattr(self, "gone", False):
                    log.warning("live update failed", exc_info=True)

        task = asyncio.ensure_future(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _throttled(self, refresh: Any) -> None:
        """Run ``refresh`` once after REFRESH_INTERVAL however many times this is called meanwhile."""
        if getattr(self, "_refresh_pending", False):
            return
        self._refresh_pending = True

        async def later() -> None:
            await asyncio.sleep(REFRESH_INTERVAL)
            self._refresh_pending = False
            await refresh()

        self._spawn(later())


# -- a run ---------------------------------------------------------------------------------


def _visible_run(user: Any, run_id: int) -> bool:
    return AgentRun.objects.for_user(user).filter(pk=run_id).exists()


class RunConsumer(LiveConsumer):
    """``ws/runs/<id>/?after=N&status=S``: the run's events after N, then live ones.

    It listens through the process's ``RunLog`` of the run (one group member per process,
    see runs.stream). The log's deliveries go out at once when they are the next events;
    anything else (the backlog still being read, an overlap, a gap) waits in ``_inbox`` for
    ``_work``, which handles one thing at a time, in order.
    """

    log: RunLog | None = None
    # No channel of its own: it hears the run through the RunLog, and 50 idle receivers on
    # one layer would take turns at its receive lock for every message of every run.
    channel_layer_alias = "runs.stream.RunLog"

    async def authorize(self, user: Any) -> bool:
        self.run_id = int(self.scope["url_route"]["kwargs"]["run_id"])
        self.live = False
        self._inbox: deque[Delivery] = deque()
        self._working = False
        return bool(await database_sync_to_async(_visible_run)(user, self.run_id))

    async def join(self) -> None:
        self.log = await RunLog.watch(self.run_id, self)

    async def leave(self) -> None:
        if self.log is not None:
            run_log, self.log = self.log, None
            await run_log.unwatch(self)

    async def start(self) -> None:
        self.status = self.query.get("status", "")
        self.last_seq, rows, run = await database_sync_to_async(self._backlog)(_int(self.query.get("after")))
        await self.take(rows)
        self.live = True
        if run.status != self.status or run.status in FINISHED:
            await self.show_run(run)
        elif self._out:
            await self.flush()
        self._work_soon()

    def _backlog(self, after: int) -> tuple[int, list[Row], AgentRun]:
        last = RunEvent.objects.filter(run_id=self.run_id).order_by("-seq").values_list("seq", flat=True).first() or 0
        # A client that claims more than there is (a stale tab after a reset) starts over.
        start = after if after <= last else 0
        rows = live.events_after(self.run_id, start)
        # Read after the events: a status newer than them is also announced by run.changed.
        run = AgentRun.objects.get(pk=self.run_id)
        run.diff_view = live.diff_view(run) if run.status in FINISHED else None  # type: ignore[attr-defined]
        return start, rows, run

    # -- from the log ------------------------------------------------------------------------

    def deliver(self, delivery: Delivery) -> None:
        if self.live and not self._inbox and not self._working and not delivery.changed:
            if delivery.last <= self.last_seq:
                return  # already sent from the backlog
            if delivery.first == self.last_seq + 1:
                self.queue(delivery.html)  # the hot path: the next events, rendered once for all
                self.last_seq = delivery.last
                return
        self._inbox.append(delivery)
        self._work_soon()

    def _work_soon(self) -> None:
        if self.live and self.joined and self._inbox and not self._working:
            self._working = True
            self._spawn(self._work())

    async def _work(self) -> None:
        try:
            while self._inbox:
                delivery = self._inbox.popleft()
                if delivery.changed:
                    await self.run_changed()
                else:
                    await self.catch_up(delivery.rows)
        finally:
            self._working = False

    async def catch_up(self, rows: list[Row]) -> None:
        """Rows after the last one sent, with any gap before them read from the database."""
        fresh = [row for row in rows if row[0] > self.last_seq]
        if fresh and fresh[0][0] > self.last_seq + 1:
            fresh = await database_sync_to_async(live.events_after)(self.run_id, self.last_seq, fresh[-1][0])
        await self.take(fresh)

    async def take(self, rows: list[Row]) -> None:
        """Consecutive rows after the last one sent, in order; each goes out once."""
        assert self.log is not None
        fresh = [row for row in rows if row[0] > self.last_seq]
        if fresh:
            self.queue(await self.log.render(fresh))
            self.last_seq = fresh[-1][0]

    async def run_changed(self) -> None:
        changed = await database_sync_to_async(self._changed)(self.last_seq)
        if changed is None:
            await self.hang_up(4403)  # no longer in the run's team
            return
        rows, run = changed
        await self.take(rows)
        await self.show_run(run)

    def _changed(self, after: int) -> tuple[list[Row], AgentRun] | None:
        if not _visible_run(self.scope["user"], self.run_id):
            return None
        rows = live.events_after(self.run_id, after)
        run = AgentRun.objects.get(pk=self.run_id)
        run.diff_view = live.diff_view(run) if run.status in FINISHED else None  # type: ignore[attr-defined]
        return rows, run

    async def show_run(self, run: AgentRun) -> None:
        self.status = run.status
        for op in live.run_ops(run, getattr(run, "diff_view", None)):
            self.queue(str(op))
        await self.flush()
        if run.status in FINISHED:
            # Nothing will change any more: free the socket (1000 is not a code the browser retries).
            await self.hang_up(1000)

    def trailer(self) -> str:
        return live.cursor(self.last_seq, self.status)


# -- a project's board and a team's dashboard -------------------------------------------------


def _visible_project(user: Any, project_id: int) -> bool:
    from projects.models import Project

    return Project.objects.filter(pk=project_id, team__memberships__user=user).exists()


def _member(user: Any, team_id: int) -> bool:
    from accounts.models import Membership

    return Membership.objects.filter(user=user, team_id=team_id).exists()


class ProjectConsumer(LiveConsumer):
    """``ws/projects/<id>/?label=&author=``: board columns whose cards changed."""

    async def authorize(self, user: Any) -> bool:
        self.project_id = int(self.scope["url_route"]["kwargs"]["project_id"])
        self.group = f"project.{self.project_id}"
        self.sent: dict[str, str] = {}
        return bool(await database_sync_to_async(_visible_project)(user, self.project_id))

    async def start(self) -> None:
        # The page may be older than the socket: bring it up to date once, then on every change.
        await self.refresh()

    async def intent_changed(self, message: dict[str, Any]) -> None:
        self._throttled(self.refresh)

    def _columns(self) -> dict[str, str] | None:
        if not _visible_project(self.scope["user"], self.project_id):
            return None
        return live_team.board_columns(self.project_id, self.query)

    async def refresh(self) -> None:
        columns = await database_sync_to_async(self._columns)()
        if columns is None:
            await self.hang_up(4403)  # no longer in the project's team
            return
        for status, html in columns.items():
            if self.sent.get(status) != html:
                self.sent[status] = html
                self.queue(str(live.Op("inner", f"col-{status}", html)))
        await self.flush()


class TeamConsumer(LiveConsumer):
    """``ws/teams/<id>/``: on connect and after every ``team.changed`` (at most one per
    REFRESH_INTERVAL), one frame with the live counters.

    The hooks for the dashboard: every frame means "the team changed" (dashboard.js
    refetches its live block on any message), and ``live_team.register(render)`` adds
    server-rendered fragments of one's own to the same frame.
    """

    async def authorize(self, user: Any) -> bool:
        self.team_id = int(self.scope["url_route"]["kwargs"]["team_id"])
        self.group = f"team.{self.team_id}"
        return bool(await database_sync_to_async(_member)(user, self.team_id))

    async def start(self) -> None:
        await self.refresh()

    async def team_changed(self, message: dict[str, Any]) -> None:
        self._throttled(self.refresh)

    async def refresh(self) -> None:
        html = await database_sync_to_async(self._fragments)()
        if html is None:
            await self.hang_up(4403)  # no longer in the team
            return
        self.queue(html)
        await self.flush()

    def _fragments(self) -> str | None:
        if not _member(self.scope["user"], self.team_id):
            return None
        return live_team.team_fragments(self.team_id)


def _int(value: str | None) -> int:
    try:
        return max(0, int(value or 0))
    except ValueError:
        return 0
