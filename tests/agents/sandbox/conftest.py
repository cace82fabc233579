"""Real sandboxes of both backends. A missing backend fails the test: CI provisions both."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.sandbox import LABEL_PROJECT, LABEL_RUN, Backend, Sandbox, SandboxLimits, SandboxSpec, get_backend

IMAGE = os.environ.get("SLIPWAY_SANDBOX_IMAGE", "slipway-sandbox:latest")
BACKENDS = ["docker", "bubblewrap"]

# Small enough that the destructive tests end quickly, large enough for python3 and git.
LIMITS = SandboxLimits(memory_mb=256, pids=96, disk_mb=64, command_timeout=20, output_limit=65536)


def make_backend(name: str, state_dir: Path) -> Backend:
    options = {"image": IMAGE} if name == "docker" else {"state_dir": state_dir}
    backend = get_backend(name, **options)
    problem = backend.check()
    if problem is not None:
        pytest.fail(f"the {name} sandbox backend must work here: {problem}")
    return backend


@pytest.fixture(scope="session")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Bubblewrap records of this test session only, so reaping never touches anyone else's."""
    return tmp_path_factory.mktemp("sandbox-state")


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest, state_dir: Path) -> Backend:
    return make_backend(request.param, state_dir)


def spec_for(workspace: Path, **overrides: object) -> SandboxSpec:
    labels = {LABEL_RUN: f"test-{uuid.uuid4().hex[:12]}", LABEL_PROJECT: "tests"}
    options: dict[str, object] = {"workspace": workspace, "image": IMAGE, "limits": LIMITS, "labels": labels}
    options.update(overrides)
    return SandboxSpec(**options)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("workspace")


@pytest.fixture(scope="module")
def sandbox(backend: Backend, workspace: Path) -> Iterator[Sandbox]:
    """One sandbox per backend for every test of a module that leaves it usable."""
    with backend.start(spec_for(workspace, env={"SLIPWAY_TEST": "shared"})) as box:
        yield box
