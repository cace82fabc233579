"""The live view under load: one run emitting events at a fixed rate to many websocket clients,
against raw Redis pub/sub measured in the same run.

    .venv/bin/python bench/stream.py [--rate 2000] [--seconds 10] [--clients 50]
                                     [--kind tool_call|status|command_output] [--json PATH]

It makes a throwaway database (dropped at the end), starts the platform's ASGI app under
uvicorn on 127.0.0.1, and runs two phases with the same emitter process and the same clients:

- raw pub/sub: the emitter PUBLISHes each event's payload to one Redis channel, and every
  client is a bare Redis subscriber (its own connection, a minimal RESP reader);
- the product: the emitter feeds the worker's real sink (``runs.recorder.EventRecorder``: a
  ``RunEvent`` row, then a channel-layer message) and every client is a signed-in websocket on
  ``/ws/runs/<id>/``, receiving the HTML fragments a browser gets.

Each event carries ``bench:<n>:<time.time() at emit>``; a client notes the time a frame
arrives, so latency is emit to client, queueing and batching included. Lost = deliveries
expected (events x clients) that never arrived. Prints a table, then the figures as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "platform"))
sys.path.insert(0, str(ROOT))

MARK = re.compile(rb"bench:(\d+):(\d+\.\d+)")
ADMIN_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/slipway")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
DRAIN_SECONDS = 10.0  # after the emitter stops, how long clients may take to get the rest


def payload(kind: str, n: int, t: float) -> dict[str, Any]:
    mark = f"bench:{n}:{t:.6f}"
    if kind == "tool_call":
        return {"id": f"b{n}", "name": "bash", "arguments": {"command": f"python -m pytest -q tests/  # {mark}"}}
    if kind == "command_output":
        return {"id": "bench", "chunk": f"{mark} ok\n"}
    return {"status": "running", "detail": mark}


# -- the emitter (a child process, like a worker) ----------------------------------------------


def emit(args: argparse.Namespace) -> None:
    total = args.rate * args.seconds
    if args.emit == "raw":
        import redis

        client = redis.Redis.from_url(REDIS_URL)

        def send(n: int) -> None:
            client.publish(args.channel, json.dumps(payload(args.kind, n, time.time())))

        finish = client.close
    else:
        import django

        django.setup()
        import runs.recorder
        from agents.events import Event
        from runs.broadcast import publish, publisher
        from runs.models import AgentRun
        from runs.recorder import EventRecorder

        # Where the time goes, first half: from the emit to Redis holding the message.
        published: list[float] = []

        def timed_publish(group: str, message: dict[str, Any]) -> Any:
            future = publish(group, message)
            events = message.get("events") or [message]
            marks = [float(MARK.search(json.dumps(e["payload"]).encode()).group(2)) for e in events]
            future.add_done_callback(lambda _: published.extend(time.time() - t for t in marks))
            return future

        runs.recorder.publish = timed_publish  # type: ignore[assignment]
        recorder = EventRecorder(AgentRun.objects.get(pk=args.run))

        def send(n: int) -> None:
            recorder(Event(args.kind, payload(args.kind, n, time.time())))

        def finish() -> None:
            recorder.close()
            publisher().flush()
            ordered = sorted(published)
            report["to_redis_p50_ms"] = round(percentile(ordered, 0.5) * 1000, 2)
            report["to_redis_p95_ms"] = round(percentile(ordered, 0.95) * 1000, 2)

    report: dict[str, Any] = {}
    started = time.perf_counter()
    n = 0
    while n < total:
        due = min(total, int((time.perf_counter() - started) * args.rate) + 1)
        while n < due:
            n += 1
            send(n)
        ahead = n / args.rate - (time.perf_counter() - started)
        if ahead > 0:
            time.sleep(ahead)
    elapsed = time.perf_counter() - started
    finish()
    print(json.dumps({"emitted": n, "seconds": elapsed, "cpu": time.process_time(), **report}), flush=True)


def run_emitter(env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, __file__, *extra], env=env, stdout=subprocess.PIPE, text=True, cwd=ROOT
    )


# -- clients ------------------------------------------------------------------------------------


class Tally:
    """What one client received: first arrival of each event, and repeats."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.seen: set[int] = set()
        self.duplicates = 0
        self.frames = 0

    def take(self, data: bytes, now: float) -> None:
        self.frames += 1
        marks = {}
        for n, t in MARK.findall(data):
            marks[int(n)] = float(t)  # a fragment may carry its mark twice (block and panel)
        for n, t in marks.items():
            if n in self.seen:
                self.duplicates += 1
            else:
                self.seen.add(n)
                self.latencies.append(now - t)


class RawSubscriber(asyncio.Protocol):
    def __init__(self, tally: Tally, ready: asyncio.Future[None]) -> None:
        self.tally = tally
        self.ready = ready
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        now = time.time()
        self.buffer += data
        if not self.ready.done() and b"subscribe" in self.buffer:
            self.ready.set_result(None)
        # Every RESP element ends in \r\n and a mark never holds one: all before the last is whole.
        cut = self.buffer.rfind(b"\r\n")
        if cut >= 0:
            whole, self.buffer = self.buffer[: cut + 2], self.buffer[cut + 2 :]
            self.tally.take(whole, now)


async def raw_clients(count: int, channel: str) -> list[tuple[Tally, asyncio.Transport]]:
    url = urlparse(REDIS_URL)
    loop = asyncio.get_running_loop()
    clients = []
    for _ in range(count):
        tally, ready = Tally(), loop.create_future()
        transport, _ = await loop.create_connection(lambda t=tally, r=ready: RawSubscriber(t, r), url.hostname, url.port or 6379)
        command = f"*2\r\n$9\r\nSUBSCRIBE\r\n${len(channel)}\r\n{channel}\r\n".encode()
        transport.write(command)
        await ready
        tally.frames = 0
        clients.append((tally, transport))
    return clients


async def ws_client(url: str, cookie: str, origin: str, tally: Tally, connected: asyncio.Event, counter: list[int], count: int) -> None:
    from websockets.asyncio.client import connect

    async with connect(url, additional_headers={"Cookie": cookie}, origin=origin, max_size=None) as socket:  # type: ignore[arg-type]
        counter[0] += 1
        if counter[0] == count:
            connected.set()
        async for frame in socket:
            now = time.time()
            tally.take(frame.encode() if isinstance(frame, str) else frame, now)


# -- figures --------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def summary(name: str, tallies: list[Tally], emitted: dict[str, Any], total: int, **extra: Any) -> dict[str, Any]:
    latencies = sorted(v for t in tallies for v in t.latencies)
    expected = total * len(tallies)
    received = sum(len(t.seen) for t in tallies)
    return {
        "path": name,
        "events": emitted["emitted"],
        "rate": round(emitted["emitted"] / emitted["seconds"]),
        "clients": len(tallies),
        "deliveries": received,
        "lost": expected - received,
        "duplicates": sum(t.duplicates for t in tallies),
        "frames": sum(t.frames for t in tallies),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
        "p95_ms": round(percentile(latencies, 0.95) * 1000, 2),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "max_ms": round(latencies[-1] * 1000, 2) if latencies else None,
        "emitter_cpu_s": round(emitted["cpu"], 2),
        **{k: v for k, v in emitted.items() if k.startswith("to_redis")},
        **extra,
    }


async def wait_all(tallies: list[Tally], total: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(len(t.seen) < total for t in tallies):
        await asyncio.sleep(0.1)


async def phases(args: argparse.Namespace, env: dict[str, str], web: str, web_pid: int, run_id: int, cookie: str) -> list[dict[str, Any]]:
    total = args.rate * args.seconds
    loop = asyncio.get_running_loop()
    common = ["--rate", str(args.rate), "--seconds", str(args.seconds), "--kind", args.kind]
    results = []

    # Raw Redis pub/sub: the floor.
    channel = f"slipway-bench-raw-{os.getpid()}"
    raw = await raw_clients(args.clients, channel)
    cpu_before = time.process_time()
    emitter = run_emitter(env, "--emit", "raw", "--channel", channel, *common)
    out, _ = await loop.run_in_executor(None, emitter.communicate)
    await wait_all([t for t, _ in raw], total, DRAIN_SECONDS)
    results.append(summary("raw Redis pub/sub", [t for t, _ in raw], json.loads(out), total,
                           clients_cpu_s=round(time.process_time() - cpu_before, 2)))
    for _, transport in raw:
        transport.close()

    # The product: recorder -> PostgreSQL -> channel layer -> consumer -> websocket.
    tallies = [Tally() for _ in range(args.clients)]
    connected, counter = asyncio.Event(), [0]
    host = urlparse(web).netloc
    url = f"ws://{host}/ws/runs/{run_id}/?after=0&status=running"
    tasks = [asyncio.create_task(ws_client(url, cookie, web, t, connected, counter, args.clients)) for t in tallies]
    await asyncio.wait_for(connected.wait(), 30)
    cpu_before, web_before = time.process_time(), cpu_seconds(web_pid)
    emitter = run_emitter(env, "--emit", "recorder", "--run", str(run_id), *common)
    out, _ = await loop.run_in_executor(None, emitter.communicate)
    await wait_all(tallies, total, DRAIN_SECONDS)
    results.append(summary("Slipway websocket", tallies, json.loads(out), total,
                           clients_cpu_s=round(time.process_time() - cpu_before, 2),
                           server_cpu_s=round(cpu_seconds(web_pid) - web_before, 2)))
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return results


# -- the stage: a database, the app under uvicorn ----------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=2000, help="events per second")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--kind", default="tool_call", choices=["tool_call", "status", "command_output"])
    parser.add_argument(
        "--no-deflate", action="store_true",
        help="run uvicorn with --ws-per-message-deflate false (browsers ask for compression; loopback does not need it)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--emit", choices=["raw", "recorder"], help=argparse.SUPPRESS)
    parser.add_argument("--channel", help=argparse.SUPPRESS)
    parser.add_argument("--run", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.emit:
        emit(args)
        return

    import psycopg
    from psycopg import sql

    admin = urlparse(ADMIN_URL)._replace(path="/postgres").geturl()
    name = f"slipway_bench_stream_{os.getpid()}"
    env = {
        **os.environ,
        "DATABASE_URL": urlparse(ADMIN_URL)._replace(path=f"/{name}").geturl(),
        "REDIS_URL": REDIS_URL,
        "CHANNEL_PREFIX": f"slipway-bench-{os.getpid()}",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(40),
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    os.environ.update(env)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    web_proc = None
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        run_id, cookie = stage()
        port = free_port()
        web_proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "config.asgi:application", "--app-dir", str(ROOT / "platform"),
             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log",
             *(["--ws-per-message-deflate", "false"] if args.no_deflate else [])],
            env=env, cwd=ROOT, start_new_session=True,
        )
        web = f"http://127.0.0.1:{port}"
        wait_until_up(web)
        results = asyncio.run(phases(args, env, web, web_proc.pid, run_id, cookie))
    finally:
        if web_proc is not None:
            os.killpg(web_proc.pid, signal.SIGTERM)
            web_proc.wait(timeout=20)
        from django.db import connections

        connections.close_all()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        forget_redis_keys(env["CHANNEL_PREFIX"])

    print(f"\n{args.rate} {args.kind} events/s for {args.seconds} s to {args.clients} clients on loopback"
          f" (websocket compression {'off' if args.no_deflate else 'on'}; load average {os.getloadavg()[0]:.1f})\n")
    print(f"{'path':<20} {'rate':>6} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8} {'lost':>6} {'dups':>5} {'frames':>7}")
    for r in results:
        print(f"{r['path']:<20} {r['rate']:>6} {r['p50_ms']:>6.1f}ms {r['p95_ms']:>6.1f}ms {r['p99_ms']:>6.1f}ms "
              f"{r['max_ms']:>6.0f}ms {r['lost']:>6} {r['duplicates']:>5} {r['frames']:>7}")
    figures = {"bench": "stream", "rate": args.rate, "seconds": args.seconds, "clients": args.clients,
               "kind": args.kind, "deflate": not args.no_deflate, "load_average": os.getloadavg()[0], "results": results}
    line = json.dumps(figures)
    if args.json:
        args.json.write_text(line + "\n")
    print(line)


def stage() -> tuple[int, str]:
    """Alice, her team, the demo project, an intent and its running run: (run id, session cookie)."""
    from django.contrib.auth.models import User
    from django.test import Client
    from django.utils import timezone

    from accounts.actions import do_create_team
    from intents.models import Intent
    from projects.models import Project
    from runs.models import AgentRun, RunStatus

    alice = User.objects.create_user("alice", "alice@example.com", secrets.token_urlsafe(12))
    team = do_create_team(alice, "Bench")
    project = Project.objects.create(team=team, name="bench", repo_url="/nonexistent", default_branch="main", created_by=alice)
    intent = Intent.objects.create(team=team, project=project, title="Bench", author=alice, status="running")
    run = AgentRun.objects.create(intent=intent, team=team, project=project, status=RunStatus.RUNNING, started_at=timezone.now())
    client = Client()
    client.force_login(alice)
    return run.pk, f"sessionid={client.cookies['sessionid'].value}"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=2).close()
            return
        except OSError as exc:
            if getattr(exc, "code", None):  # an HTTP error is an answer
                return
            if time.monotonic() > deadline:
                raise SystemExit(f"the web server did not answer at {url}") from exc
            time.sleep(0.2)


def forget_redis_keys(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(match=f"{prefix}*", count=1000):
        client.delete(key)
    client.close()


if __name__ == "__main__":
    main()
