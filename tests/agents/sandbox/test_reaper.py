"""Sandboxes outlive a worker that was killed; the reaper finds and removes them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import docker
import docker.errors

from agents.sandbox import LABEL_DEADLINE, LABEL_RUN, Backend, SandboxLimits
from agents.sandbox.records import load_all
from tests.agents.sandbox.conftest import IMAGE, LIMITS, spec_for

ROOT = Path(__file__).resolve().parents[3]

WORKER = """
import sys
from pathlib import Path
from agents.sandbox import SandboxSpec, get_backend
from tests.agents.sandbox.conftest import LIMITS
name, state_dir, image, workspace, run = sys.argv[1:]
options = {"image": image} if name == "docker" else {"state_dir": state_dir}
box = get_backend(name, **options).start(
    SandboxSpec(workspace=Path(workspace), image=image, limits=LIMITS, labels={"slipway.run": run})
)
print(box.id, flush=True)
box.exec("sleep 1000")  # the worker is busy when it dies
"""


def gone(backend: Backend, state_dir: Path, sandbox_id: str) -> bool:
    if backend.name == "docker":
        try:
            docker.from_env().containers.get(sandbox_id)
        except docker.errors.NotFound:
            return True
        return False
    return all(record.id != sandbox_id for record in load_all(state_dir))


def test_the_reaper_removes_a_sandbox_left_by_a_killed_worker(
    backend: Backend, state_dir: Path, tmp_path: Path
):
    run = f"dead-{uuid.uuid4().hex[:12]}"
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER, backend.name, str(state_dir), IMAGE, str(tmp_path), run],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
    )
    assert worker.stdout is not None
    sandbox_id = worker.stdout.readline().strip()
    assert sandbox_id, "the worker did not start its sandbox"
    worker.send_signal(signal.SIGKILL)
    worker.wait()

    reaped = backend.reap(lambda run_id: run_id != run)

    assert sandbox_id in reaped
    assert gone(backend, state_dir, sandbox_id)
    assert sandbox_id not in backend.reap(lambda run_id: run_id != run)


def test_the_reaper_spares_a_live_run_and_removes_it_when_its_run_ends(
    backend: Backend, workspace: Path, state_dir: Path
):
    spec = spec_for(workspace)
    box = backend.start(spec)
    try:
        assert box.id not in backend.reap(lambda run_id: True)
        assert box.exec("echo alive").output == "alive\n"

        assert box.id in backend.reap(lambda run_id: run_id != spec.labels[LABEL_RUN])
        assert gone(backend, state_dir, box.id)
    finally:
        box.stop()  # stopping a reaped sandbox is quiet


def test_the_reaper_removes_a_sandbox_past_its_deadline(backend: Backend, workspace: Path, state_dir: Path):
    box = backend.start(
        spec_for(workspace, limits=SandboxLimits(**{**LIMITS.__dict__, "sandbox_timeout": 1}))
    )
    try:
        labels = box.container.labels if backend.name == "docker" else box.record.labels  # type: ignore[attr-defined]
        deadline = float(labels[LABEL_DEADLINE])
        assert box.id not in backend.reap(lambda run_id: True, now=deadline - 0.5)

        assert box.id in backend.reap(lambda run_id: True, now=deadline + 0.5)
        assert gone(backend, state_dir, box.id)
    finally:
        box.stop()
