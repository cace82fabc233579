"""Test runs and diff sizes, measured inside a real sandbox."""

from __future__ import annotations

from agents.feedback import JUNIT_ENV, diff_stats, run_tests

CUSTOM_RUNNER = f"""cat > "${JUNIT_ENV}" <<'XML'
<testsuite><testcase classname="suite" name="ok"/><testcase classname="suite" name="bad"><failure message="nope"/></testcase></testsuite>
XML
echo custom runner done; exit 1"""


def test_pytest_reports_each_test_through_junit(sandbox):
    chunks: list[str] = []

    result = run_tests(sandbox, "python3 -m pytest -q", on_output=chunks.append)

    assert result.source == "junit" and (result.passed, result.failed) == (1, 1)
    assert result.tests == {"test_calc::test_add": "failed", "test_calc::test_mul": "passed"}
    assert "1 failed, 1 passed" in "".join(chunks) and "1 failed, 1 passed" in result.output
    assert not result.ok and result.duration > 0
    assert "generated xml file" not in result.output  # our own plumbing is not the model's business


def test_pytest_leaves_no_cache_folders_in_the_workspace(sandbox, demo_repo):
    run_tests(sandbox, "python3 -m pytest -q")

    assert not (demo_repo / ".pytest_cache").exists() and not (demo_repo / "__pycache__").exists()


def test_another_runner_reports_per_test_by_writing_to_the_documented_path(sandbox):
    result = run_tests(sandbox, CUSTOM_RUNNER)

    assert result.source == "junit" and result.tests == {"suite::ok": "passed", "suite::bad": "failed"}
    assert result.failures == {"suite::bad": "nope"}


def test_a_runner_without_junit_is_judged_by_its_exit_code(sandbox):
    failing = run_tests(sandbox, "python3 -c 'import calc; assert calc.add(2, 3) == 5'")
    passing = run_tests(sandbox, "true")

    assert failing.source == "exit_code" and failing.exit_code == 1 and not failing.ok
    assert passing.ok and passing.summary() == "passed (exit code 0)"


def test_a_test_run_past_its_timeout_is_a_failure(sandbox):
    result = run_tests(sandbox, "sleep 20", timeout=1)

    assert result.timed_out and not result.ok and result.summary().startswith("timed out")


def test_no_test_command_runs_nothing(sandbox):
    result = run_tests(sandbox, "  ")

    assert not result.ran and result.summary() == "no test command"


def test_the_diff_counts_changed_and_new_files(sandbox, demo_repo):
    (demo_repo / "calc.py").write_text((demo_repo / "calc.py").read_text().replace("a - b", "a + b"))
    (demo_repo / "notes.md").write_text("one\ntwo\nthree\n")
    (demo_repo / "blob.bin").write_bytes(b"\0\1\2")

    stats = diff_stats(sandbox)

    assert (stats.files, stats.additions, stats.deletions) == (3, 4, 1)


def test_outside_git_there_is_no_diff(sandbox, demo_repo):
    sandbox.exec("rm -rf .git")

    assert diff_stats(sandbox) is None
