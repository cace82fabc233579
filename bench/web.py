"""The dashboard and a project board under load, served by the real ASGI server on loopback.

Creates (or reuses) a database of its own, seeds it with `manage.py seed_demo` (100,000 intents,
about 300,000 runs and 3 million events by default), starts uvicorn on 127.0.0.1 against it with
DEBUG=0, signs in as the lead of the largest team, and loads each page with a concurrent httpx
client: p50 and p95 per page. The dashboard is measured twice: as served (its period figures
cached for a minute) and with that cache off, so every request computes everything. SQL queries
per page are counted in-process (CaptureQueriesContext) for every seeded team, whose sizes differ
fourfold, to show that the count does not depend on the amount of data.

    .venv/bin/python bench/web.py [--intents 100000] [--requests 100] [--concurrency 1,4]
                                  [--workers 2] [--db slipway_bench] [--reseed] [--json PATH]

Prints a table, then the same figures as JSON on the last line (and into PATH with --json).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "demo-password-1"
REDIS_DB = 8  # tests use 10-15, `make run` 0
LOAD_BEFORE: tuple[float, ...] = ()  # the machine's load average when the run began: others may share it


def server_url(db: str) -> str:
    base = os.environ.get("BENCH_DATABASE_SERVER", "postgres://postgres@127.0.0.1:5432")
    return f"{base}/{db}"


def ensure_database(db: str, reseed: bool) -> None:
    with psycopg.connect(server_url("postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db]).fetchone()
        if exists and reseed:
            conn.execute(f'DROP DATABASE "{db}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{db}"')


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)


def intents_in(db: str) -> int:
    with psycopg.connect(server_url(db)) as conn:
        return conn.execute("SELECT count(*) FROM intents_intent").fetchone()[0]  # type: ignore[index]


def data_sizes(db: str) -> dict[str, int]:
    with psycopg.connect(server_url(db)) as conn:
        return {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
            for table in ("intents_intent", "runs_agentrun", "runs_runevent", "reviews_changerequest")
        }


def targets(db: str) -> dict[str, Any]:
    """The largest team's lead and its largest project (the board to load)."""
    with psycopg.connect(server_url(db)) as conn:
        team_id, lead = conn.execute(
            """SELECT m.team_id, u.username FROM accounts_membership m JOIN auth_user u ON u.id = m.user_id
               WHERE m.role = 'owner' AND m.team_id = (SELECT team_id FROM intents_intent GROUP BY team_id ORDER BY count(*) DESC LIMIT 1)
               ORDER BY u.id LIMIT 1"""
        ).fetchone()  # type: ignore[misc]
        project, project_intents = conn.execute(
            "SELECT project_id, count(*) FROM intents_intent WHERE team_id = %s GROUP BY project_id ORDER BY count(*) DESC LIMIT 1",
            [team_id],
        ).fetchone()  # type: ignore[misc]
    return {"lead": lead, "project": project, "project_intents": project_intents}


def environment(db: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": server_url(db),
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(40),
        "SECURE_COOKIES": "0",  # plain http on loopback
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "REDIS_URL": f"redis://127.0.0.1:6379/{REDIS_DB}",
        "CACHE_PREFIX": "slipway-bench",
        "CHANNEL_PREFIX": "slipway-bench:asgi",
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env: dict[str, str], workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "config.asgi:application", "--app-dir", "platform", "--host", "127.0.0.1",
         "--port", str(port), "--workers", str(workers), "--no-access-log", "--log-level", "warning"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/login/", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit("uvicorn exited before it answered")
        time.sleep(0.3)
    stop_server(proc)
    raise SystemExit("uvicorn did not answer within a minute")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def sign_in(base: str, username: str) -> httpx.Cookies:
    with httpx.Client(base_url=base, timeout=30) as client:
        page = client.get("/login/").text
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if token is None:
            raise SystemExit("no CSRF token on the sign-in page")
        response = client.post("/login/", data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token.group(1)})
        if response.status_code != 302 or "sessionid" not in client.cookies:
            raise SystemExit(f"signing in as {username} failed ({response.status_code})")
        return client.cookies


def flush_cache() -> None:
    import redis

    r = redis.Redis.from_url(f"redis://127.0.0.1:6379/{REDIS_DB}")
    for key in r.scan_iter("slipway-bench:*"):
        r.delete(key)


async def load(base: str, cookies: httpx.Cookies, path: str, requests: int, concurrency: int) -> dict[str, Any]:
    latencies: list[float] = []
    sizes: list[int] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, cookies=cookies, timeout=120, limits=limits) as client:
        for _ in range(3):  # warm: templates compiled, connections open, caches filled
            (await client.get(path)).raise_for_status()
        queue: asyncio.Queue[int] = asyncio.Queue()
        for n in range(requests):
            queue.put_nowait(n)

        async def worker() -> None:
            while not queue.empty():
                queue.get_nowait()
                started = time.perf_counter()
                response = await client.get(path)
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    raise SystemExit(f"{path} answered {response.status_code}")
                sizes.append(len(response.content))

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {
        "p50_ms": round(1000 * percentile(latencies, 0.5), 1),
        "p95_ms": round(1000 * percentile(latencies, 0.95), 1),
        "max_ms": round(1000 * max(latencies), 1),
        "rps": round(requests / elapsed, 1),
        "bytes": int(statistics.median(sizes)),
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


# -- queries per page, in-process (a child process with Django set up on the bench database) -----

COUNT_SCRIPT = r"""
import json, os, sys
sys.path.insert(0, "platform")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django
django.setup()
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.db.models import Count
from django.test import Client
from django.test.utils import CaptureQueriesContext
from accounts.models import Membership
from intents.models import Intent

settings.ALLOWED_HOSTS = ["testserver"]
out = []
for team_id, intents in Intent.objects.values_list("team").annotate(n=Count("id")).order_by("-n"):
    lead = Membership.objects.filter(team_id=team_id, role="owner").select_related("user").first().user
    project = Intent.objects.filter(team_id=team_id).values_list("project").annotate(n=Count("id")).order_by("-n")[0][0]
    client = Client()
    client.force_login(lead)
    row = {"team_intents": intents}
    for name, path, cache in [
        ("dashboard", "/dashboard/", 0), ("dashboard_90d", "/dashboard/?period=90", 0), ("dashboard_cached", "/dashboard/", 60),
        ("dashboard_90d_cached", "/dashboard/?period=90", 60),
        ("live", "/dashboard/live/", 0), ("board", f"/projects/{project}/", 0), ("csv_spend", "/dashboard/export/spend_by_day.csv", 0),
    ]:
        settings.SLIPWAY_DASHBOARD_CACHE_SECONDS = cache
        client.get(path)  # fills the label list's and (when on) the period's cache
        with CaptureQueriesContext(connection) as queries:
            assert client.get(path).status_code == 200, path
        row[name] = len(queries)
    out.append(row)
print(json.dumps(out))
"""


def count_queries(env: dict[str, str]) -> list[dict[str, int]]:
    done = subprocess.run([sys.executable, "-c", COUNT_SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"counting queries failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


# -- the run ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="slipway_bench")
    parser.add_argument("--intents", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=100, help="timed requests per page and concurrency")
    parser.add_argument("--cold-requests", type=int, default=40, help="the same, with the period cache off (slow)")
    parser.add_argument("--concurrency", default="1,4", help="comma-separated numbers of concurrent clients")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--reseed", action="store_true", help="drop the database and seed it again")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    global LOAD_BEFORE
    LOAD_BEFORE = tuple(round(x, 2) for x in os.getloadavg())

    ensure_database(args.db, args.reseed)
    env = environment(args.db)
    manage(env, "migrate", "-v0")
    seed_seconds = None
    if intents_in(args.db) < args.intents:
        if intents_in(args.db):
            raise SystemExit(f"{args.db} holds fewer intents than asked for: pass --reseed")
        started = time.monotonic()
        manage(env, "seed_demo", "--intents", str(args.intents))
        seed_seconds = round(time.monotonic() - started)
    sizes = data_sizes(args.db)
    target = targets(args.db)
    print(f"data: {sizes}; seeding took {seed_seconds} s" if seed_seconds else f"data: {sizes} (reused)", flush=True)

    queries = count_queries(env)
    pages = [
        ("dashboard", "/dashboard/"),
        ("dashboard_90d", "/dashboard/?period=90"),
        ("live", "/dashboard/live/"),
        ("board", f"/projects/{target['project']}/"),
    ]
    results: list[dict[str, Any]] = []
    for cache in ("60", "0"):
        flush_cache()
        proc, base = start_server(environment(args.db, SLIPWAY_DASHBOARD_CACHE_SECONDS=cache), args.workers)
        try:
            cookies = sign_in(base, target["lead"])
            for name, path in pages:
                if cache == "0" and not name.startswith("dashboard"):
                    continue  # the cache does not touch them: measured once
                for concurrency in levels:
                    n = args.requests if cache != "0" else args.cold_requests
                    figures = asyncio.run(load(base, cookies, path, n, concurrency))
                    results.append({"page": name, "path": path, "period_cache": cache != "0", "concurrency": concurrency, "requests": n, **figures})
                    print(f"  {name:14} cache={'on ' if cache != '0' else 'off'} c={concurrency}: p50 {figures['p50_ms']} ms, p95 {figures['p95_ms']} ms", flush=True)
        finally:
            stop_server(proc)

    biggest = queries[0]
    print()
    print(f"{sizes['intents_intent']:,} intents, {sizes['runs_agentrun']:,} runs, {sizes['runs_runevent']:,} events; "
          f"largest team {biggest['team_intents']:,} intents; board of a project with {target['project_intents']:,} intents; "
          f"uvicorn --workers {args.workers}; load average before the run {LOAD_BEFORE}")
    print("| page | period cache | clients | requests | p50 | p95 | max | req/s | KB | SQL queries |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        count = biggest[f"{r['page']}_cached" if r["page"].startswith("dashboard") and r["period_cache"] else r["page"]]
        print(f"| {r['page']} | {'on' if r['period_cache'] else 'off'} | {r['concurrency']} | {r['requests']} | {r['p50_ms']:.0f} ms | {r['p95_ms']:.0f} ms "
              f"| {r['max_ms']:.0f} ms | {r['rps']} | {r['bytes'] / 1024:.0f} | {count} |")
    print()
    print("SQL queries per page, by team size (period cache off unless noted):")
    keys = [k for k in biggest if k != "team_intents"]
    print("| team intents | " + " | ".join(keys) + " |")
    print("| ---: | " + " | ".join("---:" for _ in keys) + " |")
    for row in queries:
        print(f"| {row['team_intents']:,} | " + " | ".join(str(row[k]) for k in keys) + " |")
    report = {"load_before": LOAD_BEFORE, "load_after": os.getloadavg(), "data": sizes, "seed_seconds": seed_seconds, "target": target, "workers": args.workers, "requests": args.requests,
              "results": results, "queries": queries}
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
