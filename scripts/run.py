#!/usr/bin/env python3
"""`make run`: check the services, prepare the database, start web, workers and beat.

Everything runs in the foreground; Ctrl-C (or SIGTERM) stops every process
cleanly. If one process dies, the others are stopped too, with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
HOST = os.environ.get("HOST", "127.0.0.1")
PORT = int(os.environ.get("PORT", "8000"))
DATABASE_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/slipway")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
CONCURRENCY = os.environ.get("SLIPWAY_WORKER_CONCURRENCY", "4")

START_POSTGRES = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
START_REDIS = "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no"


def say(message: str) -> None:
    print(f"slipway: {message}", flush=True)


def fail(message: str) -> None:
    print(f"slipway: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def answers(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def check_services() -> None:
    if not answers(DATABASE_URL, 5432):
        fail(f"PostgreSQL does not answer at {urlparse(DATABASE_URL).netloc}. Start it, e.g.:\n  {START_POSTGRES}\n"
             "or point DATABASE_URL at a running server.")
    if not answers(REDIS_URL, 6379):
        fail(f"Redis does not answer at {urlparse(REDIS_URL).netloc}. Start it, e.g.:\n  {START_REDIS}\n"
             "or point REDIS_URL at a running server.")


def ensure_database() -> None:
    import psycopg
    from psycopg import sql

    parsed = urlparse(DATABASE_URL)
    name = parsed.path.lstrip("/") or "slipway"
    admin_url = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            say(f"creating database {name}")
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def manage(*args: str, capture: bool = False) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        check=False,
        text=True,
        stdout=subprocess.PIPE if capture else None,
    )
    if result.returncode != 0:
        fail(f"`manage.py {' '.join(args)}` failed (exit {result.returncode})")
    return result.stdout or ""


def sandbox_setup() -> None:
    """Prefer docker with the sandbox image; build it when we can, else fall back to bubblewrap."""
    if os.environ.get("SLIPWAY_SANDBOX_BACKEND", "auto") == "bubblewrap":
        return
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "info"], capture_output=True).returncode != 0:
        if shutil.which("bwrap") is None:
            say("warning: neither Docker nor bubblewrap is available, agents cannot run. "
                "Install one: sudo apt-get install -y bubblewrap")
        else:
            say("Docker is not reachable: agents will run in bubblewrap sandboxes")
        return
    image = os.environ.get("SLIPWAY_SANDBOX_IMAGE", "slipway-sandbox:latest")
    if subprocess.run([docker, "image", "inspect", image], capture_output=True).returncode == 0:
        return
    say(f"building the sandbox image {image} (once, about 30 s)")
    built = subprocess.run([str(ROOT / "agents/sandbox/build_image.sh"), image], cwd=ROOT)
    if built.returncode != 0:
        say("the sandbox image could not be built: agents will run in bubblewrap sandboxes")


def wait_healthy(procs: dict[str, subprocess.Popen[bytes]], timeout: float = 90) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    last: dict[str, object] = {}
    while time.monotonic() < deadline:
        for name, proc in procs.items():
            if proc.poll() is not None:
                raise ChildProcessError(f"{name} exited with {proc.returncode} during start-up")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{PORT}/healthz", timeout=3) as reply:
                return json.loads(reply.read())
        except urllib.error.HTTPError as exc:
            last = json.loads(exc.read() or b"{}")
        except (urllib.error.URLError, OSError, ValueError):
            pass
        time.sleep(0.5)
    return last


def main() -> None:
    os.chdir(ROOT)
    check_services()
    ensure_database()
    say("applying migrations")
    manage("migrate", "--noinput", "-v", "0")
    creds = json.loads(manage("bootstrap", "--json", capture=True).strip().splitlines()[-1])
    sandbox_setup()

    with socket.socket() as probe:
        if probe.connect_ex((HOST, PORT)) == 0:
            fail(f"port {PORT} on {HOST} is taken: stop what uses it, or run `PORT=8001 make run`")

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    platform_dir = str(ROOT / "platform")
    commands = {
        "web": [str(VENV_BIN / "uvicorn"), "config.asgi:application", "--app-dir", platform_dir,
                "--host", HOST, "--port", str(PORT), "--no-access-log"],
        "worker": [str(VENV_BIN / "celery"), "-A", "config", "worker", "-Q", "agents", "-c", CONCURRENCY,
                   "-n", "agents@%h", "-l", "info", "--without-mingle", "--without-gossip"],
        "housekeeper": [str(VENV_BIN / "celery"), "-A", "config", "worker", "-Q", "default", "-c", "1",
                        "-n", "default@%h", "-l", "info", "--without-mingle", "--without-gossip"],
        "beat": [str(VENV_BIN / "celery"), "-A", "config", "beat", "-l", "info",
                 "-s", str(ROOT / "var" / "celerybeat-schedule")],
    }
    procs: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def stop_all(*_: object) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        say("stopping web, workers and beat")
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in procs.values():
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                proc.kill()

    signal.signal(signal.SIGINT, lambda *_: stop_all())
    signal.signal(signal.SIGTERM, lambda *_: stop_all())
    (ROOT / "var").mkdir(exist_ok=True)
    for name, command in commands.items():
        # A process group of its own: Ctrl-C reaches us once, and we stop each child in order.
        procs[name] = subprocess.Popen(command, cwd=platform_dir, env=env, start_new_session=True)

    try:
        health = wait_healthy(procs)
    except ChildProcessError as exc:
        stop_all()
        fail(str(exc))
    status = health.get("status")
    url = f"http://{HOST}:{PORT}/"
    print("\n" + "=" * 64, flush=True)
    print(f"  Slipway is running at {url}", flush=True)
    if creds.get("password"):
        print(f"  Sign in as {creds['username']} / {creds['password']}", flush=True)
    else:
        print(f"  Sign in as {creds['username']} (password changed since the first start)", flush=True)
    print(f"  Health: {url}healthz ({status})", flush=True)
    print("  Ctrl-C stops everything.", flush=True)
    print("=" * 64 + "\n", flush=True)
    if status != "ok":
        say(f"not healthy yet: {json.dumps(health.get('checks', {}))}")

    while not stopping:
        for name, proc in procs.items():
            if proc.poll() is not None and not stopping:
                say(f"{name} exited with {proc.returncode}; stopping the rest")
                stop_all()
                sys.exit(1)
        time.sleep(0.5)


if __name__ == "__main__":
    main()
