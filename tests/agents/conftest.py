"""Fixtures for the agent's tests: the scripted model server, a real sandbox, a real git repository."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agents.config import ModelConfig
from agents.events import Event
from tests.support import ModelServer, Step

API_KEY = "sk-test-4f1d9a7c2b8e6d5f"


@pytest.fixture
def model_server() -> Iterator[Callable[..., ModelServer]]:
    """``model_server(*steps, **options)`` starts a scripted server, stopped after the test."""
    started: list[ModelServer] = []

    def start(*steps: Step, **options: object) -> ModelServer:
        server = ModelServer(*steps, **options).start()  # type: ignore[arg-type]
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def openai_config(server: ModelServer | str, **overrides: object) -> ModelConfig:
    """Short timeouts and no backoff: failures take milliseconds, not minutes. ``server`` may be a base URL."""
    options: dict[str, object] = {
        "model": "scripted",
        "base_url": server if isinstance(server, str) else server.openai_base_url,
        "api_key": API_KEY,
        "request_timeout": 2.0,
        "retry_backoff": 0.0,
        "max_retries": 2,
    }
    options.update(overrides)
    return ModelConfig(**options)  # type: ignore[arg-type]


def anthropic_config(server: ModelServer, **overrides: object) -> ModelConfig:
    return openai_config(server, provider="anthropic", base_url=server.anthropic_base_url, **overrides)


def git(repo: Path, *args: str) -> str:
    # A root test run hands the repository to the sandbox's uid: git must not call that dubious.
    done = subprocess.run(
        ["git", "-c", "safe.directory=*", "-C", str(repo), *args], capture_output=True, text=True, check=True
    )
    return done.stdout


CALC = """\
def add(a, b):
    return a - b


def mul(a, b):
    return a * b
"""

TEST_CALC = """\
from calc import add, mul


def test_add():
    assert add(2, 3) == 5


def test_mul():
    assert mul(2, 3) == 6
"""


@pytest.fixture
def demo_repo(tmp_path: Path) -> Path:
    """A git repository whose test_add fails: add() subtracts."""
    repo = tmp_path / "demo"
    repo.mkdir()
    (repo / "calc.py").write_text(CALC)
    (repo / "test_calc.py").write_text(TEST_CALC)
    (repo / "README.md").write_text("# Demo\n\nA calculator. Run the tests with `python3 -m pytest -q`.\n")
    (repo / "AGENTS.md").write_text("Keep functions small. Never touch the tests.\n")
    (repo / ".gitignore").write_text("__pycache__/\n.pytest_cache/\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=Demo", "-c", "user.email=demo@example.com", "commit", "-q", "-m", "calc")
    return repo


def sandbox_unavailable() -> str | None:
    """None when the bubblewrap backend exists and works here, else why not."""
    try:
        from agents.sandbox import get_backend
    except ImportError as exc:
        return f"the sandbox backends are not written yet ({exc})"
    if shutil.which("bwrap") is None:
        return "bwrap is not installed"
    return get_backend("bubblewrap").check()


@pytest.fixture
def sandbox(demo_repo: Path) -> Iterator[object]:
    """A real bubblewrap sandbox over the demo repository."""
    problem = sandbox_unavailable()
    if problem is not None:
        pytest.fail(f"the bubblewrap sandbox must work in CI: {problem}")  # a missing sandbox fails, never skips: CI installs it
    from agents.sandbox import get_backend
    from agents.sandbox.base import SandboxSpec

    with get_backend("bubblewrap").start(SandboxSpec(workspace=demo_repo)) as box:
        yield box


class Events(list[Event]):
    """An event sink that keeps everything, for assertions."""

    def __call__(self, event: Event) -> None:
        json.dumps(event.payload)  # every payload must be JSON-serialisable
        self.append(event)

    def kinds(self) -> list[str]:
        return [e.kind for e in self]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e.payload for e in self if e.kind == kind]

    def statuses(self) -> list[str]:
        return [p["status"] for p in self.of("status")]


@pytest.fixture
def events() -> Events:
    return Events()
