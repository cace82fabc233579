"""A prepared workspace inside a sandbox of each backend: git reads it, the worker writes history."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.sandbox import Backend, Sandbox
from agents.workspace import MirrorCache, Workspace, prepare_workspace
from tests.agents.sandbox.conftest import spec_for


def git(repo: Path, *args: str) -> str:
    identity = ["-c", "user.name=Dev", "-c", "user.email=dev@example.com"]
    return subprocess.run(
        ["git", *identity, "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout


@pytest.fixture
def prepared(tmp_path: Path) -> Workspace:
    origin = tmp_path / "origin"
    origin.mkdir()
    git(origin, "init", "-q", "-b", "main")
    (origin / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    git(origin, "add", "-A")
    git(origin, "commit", "-q", "-m", "calc")
    mirror = MirrorCache(tmp_path / "mirrors").ensure(str(origin), "calc", allow_local=True)
    return prepare_workspace(
        mirror, tmp_path / "workspaces" / "run", base="main", branch="slipway/1-fix-add/1"
    )


@pytest.fixture
def inside(backend: Backend, prepared: Workspace) -> Iterator[Sandbox]:
    with backend.start(spec_for(prepared.path, readonly_mounts=prepared.readonly_mounts)) as box:
        yield box


def test_git_status_diff_and_log_work_inside_the_sandbox(inside: Sandbox, prepared: Workspace):
    inside.exec("sed -i 's/a - b/a + b/' calc.py && echo '# notes' > NOTES.md")

    status = inside.exec("git status --porcelain")
    diff = inside.exec("git diff")
    log = inside.exec("git log --oneline -1 && git rev-parse --abbrev-ref HEAD")

    assert status.exit_code == 0 and status.output == " M calc.py\n?? NOTES.md\n"
    assert diff.exit_code == 0 and "-    return a - b\n+    return a + b\n" in diff.output
    assert log.exit_code == 0 and log.output.endswith(" calc\nslipway/1-fix-add/1\n")


def test_the_repository_is_read_only_inside_and_the_worker_commits(inside: Sandbox, prepared: Workspace):
    inside.exec("sed -i 's/a - b/a + b/' calc.py")

    refused = inside.exec("git add -A && git commit -qm sneaky")
    sha = prepared.commit_all("Fix add", trailers={"Run-Id": "1"})

    assert refused.exit_code != 0 and "Read-only file system" in refused.output
    assert sha is not None and prepared.git("show", "--stat", "--format=%s", "HEAD").startswith("Fix add\n")
    assert inside.exec("git status --porcelain && git log --format=%s -1").output == "Fix add\n"


def test_files_the_worker_restores_stay_writable_for_the_sandbox(inside: Sandbox, prepared: Workspace):
    prepared.snapshot("refs/slipway/runs/1/0")
    inside.exec("echo broken > calc.py")

    prepared.restore("refs/slipway/runs/1/0")

    assert inside.exec("cat calc.py").output.startswith("def add")
    assert inside.exec("echo again >> calc.py && tail -1 calc.py").output == "again\n"
