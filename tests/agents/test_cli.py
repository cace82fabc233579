"""``python -m agents run``, end to end: a scripted model in another process, a real sandbox, a real repository."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.trajectory import read_trajectories
from tests.agents.conftest import API_KEY, sandbox_unavailable
from tests.support import SCRIPTS

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def scripted_server() -> Iterator[str]:
    """The standalone scripted server, as the platform's worker would reach it: by URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.model_server", "--script", str(SCRIPTS / "fix_calc.json")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    banner = process.stdout.readline()
    yield banner.split("listening on ")[1].split()[0] + "/v1"
    process.terminate()
    process.wait(timeout=5)


def agents_run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agents", "run", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def bubblewrap() -> None:
    problem = sandbox_unavailable()
    if problem is not None:
        pytest.fail(problem)  # a missing sandbox fails, never skips: CI installs it


def test_it_resolves_the_failing_test_and_writes_the_trajectory(
    bubblewrap, scripted_server, demo_repo, tmp_path
):
    out = tmp_path / "trajectory.jsonl"

    done = agents_run(
        "--repo", str(demo_repo), "--intent", "Fix add()", "--test-cmd", "python3 -m pytest -q",
        "--model", "scripted", "--base-url", scripted_server, "--api-key-env", "SLIPWAY_TEST_KEY",
        "--sandbox", "bubblewrap", "--out", str(out),
        env={"SLIPWAY_TEST_KEY": API_KEY},
    )  # fmt: skip

    assert done.returncode == 0, done.stdout + done.stderr
    for line in ("tests (baseline): 1 passed, 1 failed (exit code 1)", "→ edit_file", "tests (final): 2 passed, 0 failed",
                 "outcome: submitted", "reward: resolved=True newly passing=1 regressions=0, diff 1 files +1 -1"):  # fmt: skip
        assert line in done.stdout
    assert "Traceback" not in done.stderr
    [record] = read_trajectories(out)
    assert record["reward"]["resolved"] is True and record["reward"]["newly_passing"] == [
        "test_calc::test_add"
    ]
    assert API_KEY not in done.stdout + out.read_text()
    assert "return a + b" in (demo_repo / "calc.py").read_text()


def test_an_unreachable_model_ends_with_a_reason_not_a_traceback(bubblewrap, demo_repo, tmp_path):
    done = agents_run(
        "--repo", str(demo_repo), "--intent", "Fix add()", "--model", "m", "--base-url", "http://127.0.0.1:9/v1",
        "--sandbox", "bubblewrap", "--out", str(tmp_path / "t.jsonl"), "--no-plan", "--max-retries", "0",
    )  # fmt: skip

    assert done.returncode == 1
    assert "outcome: model_error (cannot reach the model server at http://127.0.0.1:9/v1" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_a_missing_key_variable_is_a_usage_error(demo_repo):
    done = agents_run(
        "--repo", str(demo_repo), "--intent", "x", "--model", "m", "--api-key-env", "SLIPWAY_NOT_SET_ANYWHERE"
    )

    assert done.returncode == 2 and "SLIPWAY_NOT_SET_ANYWHERE is not set" in done.stderr
