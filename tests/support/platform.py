"""Real platform processes for tests: a Celery worker on the test database and Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent


def platform_env(data_dir: Path, **overrides: str) -> dict[str, str]:
    """The environment of a platform process that shares this test's database, Redis and data."""
    from django.conf import settings
    from django.db import connection

    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{connection.settings_dict['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "CHANNEL_PREFIX": settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"],
        "SLIPWAY_DATA_DIR": str(data_dir),
        "SLIPWAY_ALLOW_LOCAL_REPOS": "1",
        "SLIPWAY_SANDBOX_BACKEND": "bubblewrap",
        "SLIPWAY_HEARTBEAT_SECONDS": "0.5",
        "SLIPWAY_MODEL_TIMEOUT": "10",
        "SLIPWAY_MODEL_RETRIES": "0",
        "SLIPWAY_MODEL_BACKOFF": "0",
        "PYTHONUNBUFFERED": "1",
        "DEBUG": "1",
    }
    env.update(overrides)
    return env


@contextmanager
def celery_worker(
    data_dir: Path,
    *,
    concurrency: int = 2,
    queues: str = "agents,default",
    log: Path | None = None,
    **env: str,
) -> Iterator[subprocess.Popen[bytes]]:
    name = f"test-{uuid.uuid4().hex[:8]}@%h"
    log_file = open(log or data_dir / f"worker-{name[:13]}.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            queues,
            "-c",
            str(concurrency),
            "-n",
            name,
            "-l",
            "info",
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
        ],
        cwd=ROOT / "platform",
        env=platform_env(data_dir, **env),
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    proc.log_path = Path(log_file.name)  # type: ignore[attr-defined]
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log_file.close()


def wait_for(
    condition: Callable[[], Any],
    *,
    timeout: float = 60,
    interval: float = 0.1,
    what: str = "condition",
    log: Path | None = None,
) -> Any:
    """Poll until ``condition()`` is truthy; fail with ``what`` (and the worker log) on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-4000:] if log and log.exists() else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}\n--- worker log ---\n{tail}")
        time.sleep(interval)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def web_server(data_dir: Path, *, log: Path | None = None, **env: str) -> Iterator[str]:
    """uvicorn serving the platform (HTTP and websockets) on a free loopback port, on this test's
    database and Redis; yields its base URL once it answers."""
    import urllib.request

    port = free_port()
    log_file = open(log or data_dir / f"web-{port}.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "uvicorn", "config.asgi:application",
            "--app-dir", str(ROOT / "platform"), "--host", "127.0.0.1", "--port", str(port),
            "--log-level", "warning", "--no-access-log",
        ],
        cwd=ROOT,
        env=platform_env(data_dir, **env),
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"the web server exited with {proc.returncode}: {Path(log_file.name).read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/static/js/live.js", timeout=2):
                return True
        except OSError:
            return False

    try:
        wait_for(answers, timeout=30, what="the web server", log=Path(log_file.name))
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log_file.close()
