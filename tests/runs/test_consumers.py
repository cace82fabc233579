"""The websocket consumers against the real channels-redis layer and PostgreSQL: who may listen,
replay after a sequence number, order, and no gap or duplicate across the replay/live boundary."""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.test import Client

from config.asgi import application
from intents.actions import do_set_status
from intents.models import Status
from runs import broadcast
from runs.models import AgentRun, RunEvent, RunStatus
from tests.support.run_events import DEMO, make_run, record
from tests.support.websocket import WebsocketCommunicator

pytestmark = pytest.mark.django_db(transaction=True)

BLOCK = re.compile(r'<li id="ev-(\d+)"')
CURSOR = re.compile(r'id="run-cursor" hidden data-seq="(\d+)"')


def statuses(n: int, start: int = 0) -> list[tuple[str, dict[str, Any]]]:
    """``n`` events that each add one block to the timeline, numbered so they can be told apart."""
    return [("status", {"status": "running", "detail": f"step {start + i}"}) for i in range(n)]


@database_sync_to_async
def session_cookie(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


_open: list[WebsocketCommunicator] = []


@pytest.fixture(autouse=True)
async def _hang_up_every_socket() -> Any:
    """Each test has an event loop of its own, so a channel layer of its own (channels-redis keeps
    asyncio locks that belong to one loop), and its sockets end with it."""
    from channels.layers import channel_layers

    from runs.stream import RunLog

    channel_layers.backends.clear()
    yield
    while _open:
        communicator = _open.pop()
        with contextlib.suppress(Exception, asyncio.CancelledError):  # closed already, or disconnected
            await communicator.disconnect()
    assert RunLog._logs == {}, "a socket left its run's subscription behind"
    layer = get_channel_layer()
    assert layer.receive_count == 0, "something still listens on the channel layer"
    await layer.wait_received()


async def socket(user: Any, path: str, *, origin: str = "http://testserver") -> tuple[WebsocketCommunicator, bool]:
    headers = [(b"origin", origin.encode())]
    if user is not None:
        headers.append((b"cookie", f"sessionid={await session_cookie(user)}".encode()))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    _open.append(communicator)
    connected, _ = await communicator.connect(timeout=5)
    return communicator, connected


async def receive_until(communicator: WebsocketCommunicator, seq: int, timeout: float = 10) -> tuple[str, int]:
    """Frames until the cursor reaches ``seq``: (all their HTML, how many frames)."""
    html, frames = "", 0
    try:
        async with asyncio.timeout(timeout):
            while True:
                frame = await communicator.receive_from(timeout)
                html += frame
                frames += 1
                cursors = CURSOR.findall(frame)
                if cursors and int(cursors[-1]) >= seq:
                    return html, frames
    except TimeoutError:
        cursors = CURSOR.findall(html)
        raise AssertionError(f"waited for event {seq}; got {frames} frames up to {cursors[-1:] or 'none'}") from None


def blocks(html: str) -> list[int]:
    return [int(s) for s in BLOCK.findall(html)]


async def record_async(run: AgentRun, events: list[tuple[str, dict[str, Any]]]) -> None:
    await database_sync_to_async(record)(run, events)


async def last_seq(run: AgentRun) -> int:
    return await database_sync_to_async(lambda: RunEvent.objects.filter(run=run).order_by("-seq").first().seq)()


# -- who may listen ----------------------------------------------------------------------------


async def test_an_outsider_cannot_listen_to_a_run(mallory, intent):
    run = await database_sync_to_async(make_run)(intent)
    _, connected = await socket(mallory, f"/ws/runs/{run.pk}/")
    assert not connected


async def test_nobody_signed_out_can_listen_to_a_run(intent):
    run = await database_sync_to_async(make_run)(intent)
    _, connected = await socket(None, f"/ws/runs/{run.pk}/")
    assert not connected


async def test_a_socket_opened_from_another_site_is_refused(alice, intent):
    run = await database_sync_to_async(make_run)(intent)
    _, connected = await socket(alice, f"/ws/runs/{run.pk}/", origin="https://evil.example")
    assert not connected


async def test_a_teammate_hears_the_run(bob, intent):
    run = await database_sync_to_async(make_run)(intent)
    await record_async(run, statuses(3))
    communicator, connected = await socket(bob, f"/ws/runs/{run.pk}/?after=0&status=running")
    assert connected
    html, _ = await receive_until(communicator, 3)
    assert blocks(html) == [1, 2, 3]
    await communicator.disconnect()


async def test_a_teammate_removed_from_the_team_stops_hearing_the_run(alice, bob, team, intent):
    from accounts.actions import do_remove_member
    from accounts.models import Membership

    run = await database_sync_to_async(make_run)(intent)
    communicator, connected = await socket(bob, f"/ws/runs/{run.pk}/?after=0&status=running")
    assert connected
    await database_sync_to_async(lambda: do_remove_member(alice, Membership.objects.get(team=team, user=bob)))()
    await database_sync_to_async(broadcast.run_changed)(run)
    assert await communicator.receive_output(5) == {"type": "websocket.close", "code": 4403}


async def test_an_outsider_cannot_listen_to_a_board_or_a_dashboard(mallory, project, team):
    _, connected = await socket(mallory, f"/ws/projects/{project.pk}/")
    assert not connected
    _, connected = await socket(mallory, f"/ws/teams/{team.pk}/")
    assert not connected


# -- replay and live -----------------------------------------------------------------------------


async def test_it_sends_the_events_after_the_given_sequence_number(alice, intent):
    run = await database_sync_to_async(make_run)(intent)
    await record_async(run, statuses(10))
    communicator, _ = await socket(alice, f"/ws/runs/{run.pk}/?after=4&status=running")
    html, _ = await receive_until(communicator, 10)
    assert blocks(html) == [5, 6, 7, 8, 9, 10]
    await communicator.disconnect()


async def test_live_events_follow_in_order(alice, intent):
    run = await database_sync_to_async(make_run)(intent)
    communicator, _ = await socket(alice, f"/ws/runs/{run.pk}/?after=0&status=running")
    await record_async(run, statuses(50))
    html, _ = await receive_until(communicator, 50)
    assert blocks(html) == list(range(1, 51))
    await communicator.disconnect()


async def test_no_event_is_lost_or_repeated_when_sockets_join_while_the_run_writes(alice, intent):
    run = await database_sync_to_async(make_run)(intent)
    total = 400
    writer = threading.Thread(target=lambda: _record_slowly(run, total))
    writer.start()
    try:
        # Sockets join at different moments of the stream, some from the start, some mid-way.
        communicators = []
        for after in (0, 0, 5, 0, 30):
            await asyncio.sleep(0.05)
            communicator, connected = await socket(alice, f"/ws/runs/{run.pk}/?after={after}&status=running")
            assert connected
            communicators.append((after, communicator))
        for after, communicator in communicators:
            html, _ = await receive_until(communicator, total, timeout=30)
            assert blocks(html) == list(range(after + 1, total + 1))
            await communicator.disconnect()
    finally:
        await asyncio.get_running_loop().run_in_executor(None, writer.join)


def _record_slowly(run: AgentRun, total: int) -> None:
    from django.db import connection

    from agents.events import Event
    from runs.recorder import EventRecorder

    recorder = EventRecorder(run)
    for index, (kind, payload) in enumerate(statuses(total)):
        recorder(Event(kind, payload))  # type: ignore[arg-type]
        if index % 20 == 0:
            threading.Event().wait(0.01)
    recorder.close()
    connection.close()


async def test_a_reconnect_resumes_after_the_last_event_it_saw(alice, intent):
    run = await database_sync_to_async(make_run)(intent)
    first, _ = await socket(alice, f"/ws/runs/{run.pk}/?after=0&status=running")
    await record_async(run, statuses(20))
    html, _ = await receive_until(first, 20)
    seen = int(CURSOR.findall(html)[-1])
    await first.disconnect()
    await record_async(run, statuses(10, start=20))  # while nobody listens
    again, _ = await socket(alice, f"/ws/runs/{run.pk}/?after={seen}&status=running")
    await record_async(run, statuses(10, start=30))
    html, _ = await receive_until(again, 40)
    assert blocks(html) == list(range(21, 41))
    await again.disconnect()


async def test_sockets_on_one_run_share_one_subscription_per_process(alice, bob, intent):
    from runs.stream import RunLog

    run = await database_sync_to_async(make_run)(intent)
    first, _ = await socket(alice, f"/ws/runs/{run.pk}/?after=0&status=running")
    second, _ = await socket(bob, f"/ws/runs/{run.pk}/?after=0&status=running")
    layer = get_channel_layer()
    group = f"run.{run.pk}"
    members = await layer.connection(layer.consistent_hash(group)).zrange(layer._group_key(group), 0, -1)
    ours = [m for m in members if m.decode().startswith(f"specific.{layer.client_prefix}!")]
    assert len(ours) == 1 and len(RunLog._logs[run.pk].watchers) == 2
    await record_async(run, statuses(5))
    for communicator in (first, second):
        html, _ = await receive_until(communicator, 5)
        assert blocks(html) == [1, 2, 3, 4, 5]
        await communicator.disconnect()
    assert run.pk not in RunLog._logs


async def test_a_lost_message_is_read_from_the_database(alice, intent):
    run = await database_sync_to_async(make_run)(intent)
    communicator, _ = await socket(alice, f"/ws/runs/{run.pk}/?after=0&status=running")

    @database_sync_to_async
    def write_silently(seqs: range) -> None:
        for seq in seqs:  # rows whose messages never made it
            RunEvent.objects.create(run=run, seq=seq, kind="status", payload={"status": "running", "detail": f"step {seq}"})

    await write_silently(range(1, 4))
    await record_async(run, statuses(1))  # seq 4, announced
    html, _ = await receive_until(communicator, 4)
    assert blocks(html) == [1, 2, 3, 4]
    await communicator.disconnect()


async def test_messages_that_overtake_each_other_are_put_back_in_order(alice, intent):
    run = await database_sync_to_async(make_run)(intent)
    communicator, _ = await socket(alice, f"/ws/runs/{run.pk}/?after=0&status=running")
    await database_sync_to_async(
        lambda: [RunEvent.objects.create(run=run, seq=s, kind="status", payload={"status": "running", "detail": str(s)}) for s in (1, 2, 3)]
    )()
    layer = get_channel_layer()
    for seq in (3, 1, 2, 3):
        await layer.group_send(f"run.{run.pk}", {"type": "run.event", "seq": seq, "kind": "status", "payload": {"status": "running", "detail": str(seq)}})
    html, _ = await receive_until(communicator, 3)
    assert blocks(html) == [1, 2, 3]
    await communicator.disconnect()


async def test_a_flood_of_events_reaches_the_browser_in_a_few_frames(alice, intent):
    run = await database_sync_to_async(make_run)(intent)
    communicator, _ = await socket(alice, f"/ws/runs/{run.pk}/?after=0&status=running")
    await record_async(run, statuses(300))
    html, frames = await receive_until(communicator, 300)
    assert blocks(html) == list(range(1, 301))
    assert frames < 30, f"{frames} frames for 300 events"
    await communicator.disconnect()


async def test_the_run_page_fragments_match_the_events(alice, intent):
    run = await database_sync_to_async(make_run)(intent)
    communicator, _ = await socket(alice, f"/ws/runs/{run.pk}/?after=0&status=running")
    await record_async(run, DEMO)
    html, _ = await receive_until(communicator, await last_seq(run))
    # Output streams into the call's box, then the call's result replaces it.
    call = await database_sync_to_async(lambda: RunEvent.objects.get(run=run, kind="tool_call", payload__id="call_3").seq)()
    assert f'<span hx-swap-oob="beforeend:#out-{call}">....\n4 passed in 0.02s\n</span>' in html
    assert f'<div hx-swap-oob="innerHTML:#body-{call}">' in html
    assert '<div hx-swap-oob="innerHTML:#run-plan">' in html and 'hx-swap-oob="innerHTML:#run-usage"' in html
    assert '<span hx-swap-oob="beforeend:#streaming-text">1. Read textstats.py.\n</span>' in html
    await communicator.disconnect()


async def test_a_change_of_status_updates_the_page_and_a_finished_run_closes_the_socket(alice, intent):
    run = await database_sync_to_async(make_run)(intent)
    communicator, _ = await socket(alice, f"/ws/runs/{run.pk}/?after=0&status=running")

    @database_sync_to_async
    def finish() -> None:
        AgentRun.objects.filter(pk=run.pk).update(status=RunStatus.FAILED, reason="the model gave up")
        run.status = RunStatus.FAILED
        broadcast.run_changed(run)

    await finish()
    frame = await communicator.receive_from(5)
    assert '<div hx-swap-oob="innerHTML:#run-head">' in frame and "the model gave up" in frame
    assert f'hx-get="/runs/{run.pk}/?part=actions"' in frame
    assert 'data-status="failed"' in frame
    closed = await communicator.receive_output(5)
    assert closed == {"type": "websocket.close", "code": 1000}


async def test_a_stale_status_is_brought_up_to_date_on_connect(alice, intent):
    run = await database_sync_to_async(make_run)(intent, status=RunStatus.AWAITING_PLAN)
    communicator, _ = await socket(alice, f"/ws/runs/{run.pk}/?after=0&status=running")
    frame = await communicator.receive_from(5)
    assert "Awaiting plan approval" in frame and f'hx-get="/runs/{run.pk}/?part=approval"' in frame
    await communicator.disconnect()


# -- the board and the dashboard -------------------------------------------------------------------


def column(html: str, status: str) -> str:
    parts = html.split(f'hx-swap-oob="innerHTML:#col-{status}">')
    return parts[1].split('<div hx-swap-oob="innerHTML:#col-', 1)[0] if len(parts) > 1 else ""


async def test_a_card_moves_column_when_its_intent_changes_status(alice, intent):
    communicator, connected = await socket(alice, f"/ws/projects/{intent.project_id}/")
    assert connected
    first = await communicator.receive_from(5)  # the board as it is now
    assert f'id="intent-card-{intent.pk}"' in column(first, "draft")
    await database_sync_to_async(do_set_status)(intent, Status.QUEUED)
    frame = await communicator.receive_from(5)
    assert f'id="intent-card-{intent.pk}"' in column(frame, "queued")
    assert f'id="intent-card-{intent.pk}"' not in column(frame, "draft") and "#col-draft" in frame
    assert "#col-running" not in frame  # columns that did not change are not sent
    await communicator.disconnect()


async def test_the_board_keeps_its_filters(alice, intent):
    communicator, _ = await socket(alice, f"/ws/projects/{intent.project_id}/?label=feature")
    first = await communicator.receive_from(5)
    assert f"intent-card-{intent.pk}" not in first  # labelled "bug"
    await communicator.disconnect()


async def test_the_dashboard_counts_runs_as_they_start_and_end(alice, team, intent):
    communicator, connected = await socket(alice, f"/ws/teams/{team.pk}/")
    assert connected
    first = await communicator.receive_from(5)
    assert 'data-count="running">0<' in first
    run = await database_sync_to_async(make_run)(intent)
    await database_sync_to_async(broadcast.run_changed)(run)
    frame = await communicator.receive_from(5)
    assert 'data-count="running">1<' in frame

    @database_sync_to_async
    def finish() -> None:
        from django.utils import timezone

        AgentRun.objects.filter(pk=run.pk).update(status=RunStatus.DONE, finished_at=timezone.now())
        run.status = RunStatus.DONE
        broadcast.run_changed(run)

    await finish()
    frame = await communicator.receive_from(5)
    assert 'data-count="running">0<' in frame and 'data-count="done_today">1<' in frame
    await communicator.disconnect()
