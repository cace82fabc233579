"""Grading patches the way the SWE-bench harness does, on hand-made instances over a real
repository, with real git and a real bubblewrap sandbox."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from agents.evaluation import (
    grade,
    harness_report,
    junit_key,
    parse_junit_statuses,
    parse_pytest_log,
    patch_paths,
)
from agents.instances import Instance, InstanceError, Problem, parse_instances
from agents.sandbox import get_backend
from agents.sandbox.base import SandboxSpec
from agents.workspace import MirrorCache, Workspace, prepare_workspace
from tests.agents.conftest import git, sandbox_unavailable

CALC = """\
def add(a, b):
    return a + b


def sub(a, b):
    return a + b


def mul(a, b):
    return a * b
"""

TESTS = """\
import pytest

from calc import add, mul


def test_add():
    assert add(2, 3) == 5


class TestMul:
    @pytest.mark.parametrize("a,b,product", [(2, 3, 6), (0, 5, 0)])
    def test_mul(self, a, b, product):
        assert mul(a, b) == product
"""

HIDDEN_TEST = """

def test_sub():
    from calc import sub

    assert sub(5, 3) == 2
"""

FAIL_TO_PASS = ["tests/test_calc.py::test_sub"]
PASS_TO_PASS = [
    "tests/test_calc.py::test_add",
    "tests/test_calc.py::TestMul::test_mul[2-3-6]",
    "tests/test_calc.py::TestMul::test_mul[0-5-0]",
]


def commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=Dev", "-c", "user.email=dev@example.com", "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


@pytest.fixture
def calc_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "calc"
    (repo / "tests").mkdir(parents=True)
    (repo / "calc.py").write_text(CALC)
    (repo / "conftest.py").write_text("")  # puts the repository root on sys.path for the tests
    (repo / "tests" / "test_calc.py").write_text(TESTS)
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "calc, with a sub() that adds")
    return repo


def patch_of(repo: Path, edits: dict[str, str | None]) -> str:
    """The diff that makes ``edits`` (path -> new text, None to delete) on top of the repository's HEAD."""
    scratch = repo.parent / f"scratch-{len(list(repo.parent.iterdir()))}"
    shutil.copytree(repo, scratch)
    for path, text in edits.items():
        target = scratch / path
        if text is None:
            target.unlink()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
    git(scratch, "add", "-A")
    diff = git(scratch, "diff", "--cached", "HEAD")
    shutil.rmtree(scratch)
    return diff


@pytest.fixture
def instance(calc_repo: Path) -> Instance:
    base = git(calc_repo, "rev-parse", "HEAD").strip()
    test_patch = patch_of(calc_repo, {"tests/test_calc.py": TESTS + HIDDEN_TEST})
    return Instance.from_dict(
        {
            "instance_id": "acme__calc-1",
            "repo": "acme/calc",
            "base_commit": base,
            "problem_statement": "sub() adds instead of subtracting.",
            "test_patch": test_patch,
            "FAIL_TO_PASS": json.dumps(FAIL_TO_PASS),  # as the Hugging Face datasets ship them
            "PASS_TO_PASS": PASS_TO_PASS,
            "version": "1.0",
        }
    )


@pytest.fixture
def grader(calc_repo: Path, tmp_path: Path) -> Callable[..., object]:
    """``grader(instance, patch)`` grades in a fresh workspace of the repository's mirror, in bubblewrap."""
    problem = sandbox_unavailable()
    if problem is not None:
        pytest.fail(f"the bubblewrap sandbox must work in CI: {problem}")  # a missing sandbox fails, never skips: CI installs it
    mirror = MirrorCache(tmp_path / "mirrors").ensure(str(calc_repo), "calc", allow_local=True)
    backend = get_backend("bubblewrap")
    made: list[Workspace] = []

    def run(instance: Instance, patch: str):  # type: ignore[no-untyped-def]
        dest = tmp_path / f"workspace-{len(made)}"
        workspace = prepare_workspace(mirror, dest, base=instance.base_commit, branch="slipway/grade/1")
        made.append(workspace)
        spec = SandboxSpec(workspace=workspace.path, readonly_mounts=workspace.readonly_mounts)
        return grade(instance, patch, workspace, lambda: backend.start(spec), timeout=120)

    yield run
    for workspace in made:
        workspace.cleanup()


FIXED = CALC.replace("def sub(a, b):\n    return a + b", "def sub(a, b):\n    return a - b")


# -- grading ------------------------------------------------------------------------


def test_a_patch_that_fixes_the_bug_is_resolved(grader, instance, calc_repo):
    result = grader(instance, patch_of(calc_repo, {"calc.py": FIXED}))
    assert result.status == "resolved", (result.error, result.log)
    assert result.patch_applied
    assert result.tests_status["FAIL_TO_PASS"] == {"success": FAIL_TO_PASS, "failure": []}
    assert result.tests_status["PASS_TO_PASS"] == {"success": PASS_TO_PASS, "failure": []}
    assert result.test_results == {t: "PASSED" for t in FAIL_TO_PASS + PASS_TO_PASS}
    assert result.report() == {
        "patch_is_None": False,
        "patch_exists": True,
        "patch_successfully_applied": True,
        "resolved": True,
        "tests_status": result.tests_status,
    }


def test_without_a_fix_the_hidden_test_fails_and_nothing_is_resolved(grader, instance, calc_repo):
    result = grader(
        instance, patch_of(calc_repo, {"calc.py": CALC.replace("def mul", "# multiply\ndef mul")})
    )
    assert result.status == "unresolved"
    assert result.tests_status["FAIL_TO_PASS"]["failure"] == FAIL_TO_PASS
    assert result.test_results["tests/test_calc.py::test_sub"] == "FAILED"


def test_a_patch_that_fixes_it_but_breaks_a_pass_to_pass_test_is_not_resolved(grader, instance, calc_repo):
    broken = FIXED.replace("def add(a, b):\n    return a + b", "def add(a, b):\n    return a * b")
    result = grader(instance, patch_of(calc_repo, {"calc.py": broken}))
    assert result.status == "unresolved"
    assert result.tests_status["FAIL_TO_PASS"] == {"success": FAIL_TO_PASS, "failure": []}
    assert result.tests_status["PASS_TO_PASS"]["failure"] == ["tests/test_calc.py::test_add"]
    assert result.test_results["tests/test_calc.py::TestMul::test_mul[2-3-6]"] == "PASSED"


def test_a_patch_that_does_not_apply_is_an_error_not_a_failure(grader, instance, calc_repo):
    stale = patch_of(calc_repo, {"calc.py": FIXED}).replace(" def mul(a, b):", " def multiply(a, b):")
    result = grader(instance, stale)
    assert result.status == "error"
    assert not result.patch_applied
    assert "does not apply" in result.error and "calc.py" in result.error
    assert result.report()["patch_successfully_applied"] is False
    assert result.report()["resolved"] is False


def test_an_empty_patch_is_graded_empty(grader, instance):
    result = grader(instance, "")
    assert result.status == "empty"
    assert result.report()["patch_is_None"] is True


def test_test_files_the_agent_touched_are_reset_before_the_test_patch(grader, instance, calc_repo):
    # The agent fixed sub() and wrote its own test_sub where the hidden test goes: without the
    # reset, the test patch would not apply.
    own_test = TESTS + "\n\ndef test_sub():\n    assert True\n"
    result = grader(instance, patch_of(calc_repo, {"calc.py": FIXED, "tests/test_calc.py": own_test}))
    assert result.status == "resolved", (result.error, result.log)
    assert result.reset_files == ["tests/test_calc.py"]


def test_an_agent_cannot_pass_by_weakening_the_tests(grader, instance, calc_repo):
    cheat = TESTS.replace("assert add(2, 3) == 5", "assert True") + "\n\ndef test_sub():\n    assert True\n"
    broken = CALC.replace("def add(a, b):\n    return a + b", "def add(a, b):\n    return 0")
    result = grader(instance, patch_of(calc_repo, {"calc.py": broken, "tests/test_calc.py": cheat}))
    assert result.status == "unresolved"
    assert result.tests_status["FAIL_TO_PASS"]["failure"] == FAIL_TO_PASS
    assert "tests/test_calc.py::test_add" in result.tests_status["PASS_TO_PASS"]["failure"]


def test_a_test_file_the_agent_added_is_removed_when_the_test_patch_adds_it(grader, calc_repo):
    base = git(calc_repo, "rev-parse", "HEAD").strip()
    new_test = "from calc import sub\n\n\ndef test_sub():\n    assert sub(5, 3) == 2\n"
    instance = Instance.from_dict(
        {
            "instance_id": "acme__calc-2",
            "repo": "acme/calc",
            "base_commit": base,
            "problem_statement": "sub() adds.",
            "test_patch": patch_of(calc_repo, {"tests/test_sub.py": new_test}),
            "FAIL_TO_PASS": ["tests/test_sub.py::test_sub"],
            "PASS_TO_PASS": [],
        }
    )
    agents_file = "from calc import sub\n\n\ndef test_sub():\n    assert sub(1, 1) == 0\n"
    result = grader(instance, patch_of(calc_repo, {"calc.py": FIXED, "tests/test_sub.py": agents_file}))
    assert result.status == "resolved", (result.error, result.log)
    assert result.reset_files == ["tests/test_sub.py"]


def test_a_missing_test_counts_as_a_failure(grader, instance, calc_repo):
    missing = Instance.from_dict(
        instance.to_dict() | {"PASS_TO_PASS": [*PASS_TO_PASS, "tests/test_calc.py::test_gone"]}
    )
    result = grader(missing, patch_of(calc_repo, {"calc.py": FIXED}))
    assert result.status == "unresolved"
    assert result.test_results["tests/test_calc.py::test_gone"] == "missing"
    assert result.tests_status["PASS_TO_PASS"]["failure"] == ["tests/test_calc.py::test_gone"]


def test_a_workspace_not_at_the_base_commit_is_refused(instance, calc_repo, tmp_path):
    (calc_repo / "README.md").write_text("later\n")
    commit(calc_repo, "later")
    mirror = MirrorCache(tmp_path / "other-mirrors").ensure(str(calc_repo), "calc", allow_local=True)
    workspace = prepare_workspace(mirror, tmp_path / "at-main", base="main", branch="slipway/grade/2")
    try:
        result = grade(
            instance, patch_of(calc_repo, {"calc.py": FIXED}), workspace, lambda: pytest.fail("no sandbox")
        )
    finally:
        workspace.cleanup()
    assert result.status == "error"
    assert "not at the base commit" in result.error


# -- reading instances and results ---------------------------------------------------------


def test_instances_read_from_json_lines_and_arrays_alike(instance):
    row = instance.to_dict()
    lines = "\n".join(json.dumps(row | {"instance_id": f"acme__calc-{n}"}) for n in range(3))
    from_lines, problems = parse_instances(lines)
    from_array, _ = parse_instances(json.dumps([row]))
    assert [i.instance_id for i in from_lines] == ["acme__calc-0", "acme__calc-1", "acme__calc-2"]
    assert problems == []
    assert from_array == [instance]
    assert from_array[0].fail_to_pass == tuple(FAIL_TO_PASS)
    assert from_array[0].extra == {"version": "1.0"}


def test_bad_rows_are_reported_with_where_and_why(instance):
    row = instance.to_dict()
    text = "\n".join(
        [
            json.dumps(row),
            json.dumps(row),  # the same id again
            json.dumps({k: v for k, v in row.items() if k != "base_commit"} | {"instance_id": "x-2"}),
            json.dumps(row | {"instance_id": "x-3", "FAIL_TO_PASS": "not json"}),
            json.dumps(row | {"instance_id": "x-4", "repo": "no-owner"}),
            "{broken",
        ]
    )
    instances, problems = parse_instances(text)
    assert len(instances) == 1
    assert problems == [
        Problem("line 2", "the same instance_id appears twice", "acme__calc-1"),
        Problem("line 3", "missing base_commit", "x-2"),
        Problem("line 4", "FAIL_TO_PASS is a string but not a JSON list", "x-3"),
        Problem("line 5", "repo must be owner/name, not 'no-owner'", "x-4"),
        Problem("line 6", problems[-1].message, ""),
    ]
    assert problems[-1].message.startswith("not valid JSON")


def test_an_instance_needs_a_test_that_shows_the_fix(instance):
    with pytest.raises(InstanceError, match="FAIL_TO_PASS is empty"):
        Instance.from_dict(instance.to_dict() | {"FAIL_TO_PASS": "[]"})


def test_junit_names_map_back_to_node_ids():
    assert junit_key("tests/test_calc.py::test_add") == "tests.test_calc::test_add"
    assert (
        junit_key("tests/test_calc.py::TestMul::test_mul[2-3-6]")
        == "tests.test_calc.TestMul::test_mul[2-3-6]"
    )
    assert junit_key("tests/test_x.py::test_y[a::b/c.py]") == "tests.test_x::test_y[a::b/c.py]"
    xml = b"""<testsuites><testsuite>
      <testcase classname="tests.test_calc" name="test_add"/>
      <testcase classname="tests.test_calc.TestMul" name="test_mul[2-3-6]"><failure message="no"/></testcase>
      <testcase classname="tests.test_calc" name="test_x"><skipped type="pytest.xfail" message="known"/></testcase>
      <testcase classname="tests.test_calc" name="test_s"><skipped type="pytest.skip" message="later"/></testcase>
    </testsuite></testsuites>"""
    assert parse_junit_statuses(xml) == {
        "tests.test_calc::test_add": "PASSED",
        "tests.test_calc.TestMul::test_mul[2-3-6]": "FAILED",
        "tests.test_calc::test_x": "XFAIL",
        "tests.test_calc::test_s": "SKIPPED",
    }


def test_the_short_summary_names_node_ids_exactly():
    log = "\n".join(
        [
            "PASSED tests/t.py::test_a",
            "FAILED tests/t.py::test_b - AssertionError: 1 != 2",
            "FAILED tests/t.py::test_c[x - y] - boom",
            "XFAIL tests/t.py::test_d - reason",
            "SKIPPED [1] tests/t.py:9: not today",
            "ERROR tests/t.py::test_e - fixture 'db' not found",
        ]
    )
    wanted = [
        "tests/t.py::test_a",
        "tests/t.py::test_b",
        "tests/t.py::test_c[x - y]",
        "tests/t.py::test_d",
        "tests/t.py::test_e",
    ]
    assert parse_pytest_log(log, wanted) == {
        "tests/t.py::test_a": "PASSED",
        "tests/t.py::test_b": "FAILED",
        "tests/t.py::test_c[x - y]": "FAILED",
        "tests/t.py::test_d": "XFAIL",
        "tests/t.py::test_e": "ERROR",
    }


def test_patch_paths_include_new_deleted_and_renamed_files():
    patch = (
        "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-x\n+y\n"
        "diff --git a/new.py b/new.py\nnew file mode 100644\n--- /dev/null\n+++ b/new.py\n@@ -0,0 +1 @@\n+z\n"
        "diff --git a/old.py b/old.py\ndeleted file mode 100644\n--- a/old.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-z\n"
        'diff --git "a/sp ace.py" "b/sp ace.py"\n--- "a/sp ace.py"\n+++ "b/sp ace.py"\n@@ -1 +1 @@\n-a\n+b\n'
    )
    assert patch_paths(patch) == ["a.py", "new.py", "old.py", "sp ace.py"]


def test_the_harness_report_counts_like_the_harness(instance):
    from agents.evaluation import Grade

    grades = {
        "a": Grade("a", "resolved", patch_applied=True),
        "b": Grade("b", "unresolved", patch_applied=True),
        "c": Grade("c", "error"),
        "d": Grade("d", "empty"),
        "e": None,
    }
    report = harness_report(["a", "b", "c", "d", "e", "f"], grades)
    assert report["total_instances"] == 6
    assert report["submitted_instances"] == 5
    assert report["completed_instances"] == 2
    assert report["resolved_ids"] == ["a"] and report["unresolved_ids"] == ["b"]
    assert report["error_ids"] == ["c"] and report["empty_patch_ids"] == ["d"]
    assert report["incomplete_ids"] == ["e", "f"]
