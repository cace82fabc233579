"""A small real repository with three bugs, its SWE-bench-style instances, and a project linking it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.reviews.changes import git

CALC = """\
def add(a, b):
    return a + b


def sub(a, b):
    return a + b


def mul(a, b):
    return a + b


def div(a, b):
    return a * b
"""

TESTS = """\
from calc import add


def test_add():
    assert add(2, 3) == 5
"""

HIDDEN = {
    "sub": "\n\ndef test_sub():\n    from calc import sub\n\n    assert sub(5, 3) == 2\n",
    "mul": "\n\ndef test_mul():\n    from calc import mul\n\n    assert mul(2, 3) == 6\n",
    "div": "\n\ndef test_div():\n    from calc import div\n\n    assert div(6, 3) == 2\n",
}
PROBLEMS = {
    "sub": "sub() adds its arguments instead of subtracting them.",
    "mul": "mul() adds its arguments instead of multiplying them.",
    "div": "div() multiplies its arguments instead of dividing them.",
}
FIXES = {
    "sub": ("def sub(a, b):\n    return a + b", "def sub(a, b):\n    return a - b"),
    "mul": ("def mul(a, b):\n    return a + b", "def mul(a, b):\n    return a * b"),
    "div": ("def div(a, b):\n    return a * b", "def div(a, b):\n    return a / b"),
}


def commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def diff_of(repo: Path, edits: dict[str, str]) -> str:
    """The diff that makes ``edits`` on top of the repository's HEAD, as a patch file would carry it."""
    scratch = repo.with_name(repo.name + "-scratch")
    shutil.copytree(repo, scratch)
    try:
        for path, text in edits.items():
            (scratch / path).write_text(text)
        git(scratch, "add", "-A")
        return git(scratch, "diff", "--cached", "HEAD") + "\n"
    finally:
        shutil.rmtree(scratch)


@pytest.fixture
def calc_repo(tmp_path: Path) -> Path:
    """calc.py with three bugs and a test that passes; then a later commit on main, so main is not the base."""
    repo = tmp_path / "calc"
    (repo / "tests").mkdir(parents=True)
    (repo / "calc.py").write_text(CALC)
    (repo / "conftest.py").write_text("")
    (repo / "tests" / "test_calc.py").write_text(TESTS)
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "calc with three bugs")
    return repo


@pytest.fixture
def base_commit(calc_repo: Path) -> str:
    return git(calc_repo, "rev-parse", "HEAD")


@pytest.fixture
def rows(calc_repo: Path, base_commit: str) -> list[dict[str, Any]]:
    """One SWE-bench row per bug, at the base commit; FAIL_TO_PASS JSON-encoded as the datasets ship it."""
    made = [
        {
            "instance_id": f"acme__calc-{name}",
            "repo": "acme/calc",
            "base_commit": base_commit,
            "problem_statement": PROBLEMS[name],
            "hints_text": "",
            "test_patch": diff_of(calc_repo, {"tests/test_calc.py": TESTS + HIDDEN[name]}),
            "FAIL_TO_PASS": json.dumps([f"tests/test_calc.py::test_{name}"]),
            "PASS_TO_PASS": json.dumps(["tests/test_calc.py::test_add"]),
            "version": "0.1",
        }
        for name in ("sub", "mul", "div")
    ]
    (calc_repo / "CHANGELOG.md").write_text("Later work on main.\n")
    commit(calc_repo, "later work")
    return made


def jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


@pytest.fixture
def calc_project(team, alice, calc_repo):  # type: ignore[no-untyped-def]
    from projects.models import Project

    return Project.objects.create(
        team=team,
        name="calc",
        repo_url=str(calc_repo),
        default_branch="main",
        test_command="python3 -m pytest -q",
        created_by=alice,
    )


@pytest.fixture
def idle_model(team):  # type: ignore[no-untyped-def]
    """A model for the team so that rounds can be queued; no worker runs them in these tests."""
    from runs.models import ModelConfig

    config = ModelConfig(team=team, name="idle", base_url="http://127.0.0.1:9/v1", model="idle")
    config.set_api_key("sk-idle-model-key-0123456789")
    config.save()
    team.default_model = config
    team.save()
    return config
