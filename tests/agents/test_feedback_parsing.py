"""Reading test results from JUnit XML, and the reward they add up to."""

from __future__ import annotations

from agents.feedback import DiffStats, TestResult, compute_reward, parse_junit

JUNIT = b"""<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="0" failures="1" skipped="1" tests="4">
  <testcase classname="test_calc" name="test_add"><failure message="assert -1 == 5">def test_add(): ...</failure></testcase>
  <testcase classname="test_calc" name="test_mul"/>
  <testcase classname="test_calc" name="test_div"><skipped message="later"/></testcase>
  <testcase classname="test_io" name="test_read"><error message="fixture broke"/></testcase>
</testsuite></testsuites>"""


def result(tests: dict[str, str], exit_code: int = 0, source: str = "junit") -> TestResult:
    counts = {o: sum(1 for v in tests.values() if v == o) for o in ("passed", "failed", "error", "skipped")}
    return TestResult(
        command="pytest",
        exit_code=exit_code,
        passed=counts["passed"],
        failed=counts["failed"],
        errors=counts["error"],
        skipped=counts["skipped"],
        tests=tests,  # type: ignore[arg-type]
        source=source,  # type: ignore[arg-type]
    )


def test_junit_gives_each_tests_outcome_and_failure_message():
    outcomes, failures = parse_junit(JUNIT)

    assert outcomes == {
        "test_calc::test_add": "failed",
        "test_calc::test_mul": "passed",
        "test_calc::test_div": "skipped",
        "test_io::test_read": "error",
    }
    assert failures["test_calc::test_add"].startswith("assert -1 == 5")
    assert failures["test_io::test_read"] == "fixture broke"


def test_a_bare_testsuite_root_is_read_too():
    outcomes, _ = parse_junit(b'<testsuite><testcase name="t"/></testsuite>')

    assert outcomes == {"t": "passed"}


def test_a_document_that_is_not_junit_is_refused():
    assert parse_junit(b"not xml at all") is None
    assert parse_junit(b"<html><body/></html>") is None


def test_an_entity_expansion_bomb_is_refused():
    bomb = b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
    <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;"><!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
    <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;"><!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
    <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;"><!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
    <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>
    <testsuite><testcase name="&lol9;"/></testsuite>"""

    assert parse_junit(bomb) is None


def test_a_fixed_test_is_newly_passing_and_the_run_resolved():
    before = result({"a::fixed": "failed", "a::kept": "passed"}, exit_code=1)
    after = result({"a::fixed": "passed", "a::kept": "passed", "a::added": "passed"})

    reward = compute_reward(before, after, DiffStats(files=2, additions=5, deletions=1))

    assert reward.newly_passing == ["a::added", "a::fixed"]
    assert reward.regressions == [] and reward.still_failing == []
    assert reward.resolved is True and reward.score == 1.0
    assert reward.tests_before == {"passed": 1, "failed": 1, "errors": 0, "skipped": 0, "exit_code": 1}
    assert reward.diff == DiffStats(2, 5, 1)


def test_a_broken_or_deleted_test_is_a_regression_and_not_resolved():
    before = result({"a::one": "passed", "a::two": "passed", "a::bad": "failed"}, exit_code=1)
    after = result({"a::one": "error", "a::bad": "failed"}, exit_code=1)

    reward = compute_reward(before, after)

    assert reward.regressions == ["a::one", "a::two"]
    assert reward.still_failing == ["a::bad"]
    assert reward.resolved is False and reward.score == 0.0


def test_exit_codes_alone_decide_when_there_is_no_junit():
    before = TestResult(command="make test", exit_code=2, source="exit_code")
    after = TestResult(command="make test", exit_code=0, source="exit_code")

    reward = compute_reward(before, after)

    assert reward.resolved is True and reward.newly_passing == [] and reward.regressions == []


def test_without_a_test_command_resolution_is_unknown():
    reward = compute_reward(None, TestResult(command="", exit_code=None))

    assert reward.resolved is None and reward.score == 0.0


def test_a_test_result_survives_a_round_trip_through_json_data():
    original = result({"a::x": "failed"}, exit_code=1)
    original.failures = {"a::x": "boom"}

    again = TestResult.from_dict(original.to_dict())

    assert again == original and again.summary() == "0 passed, 1 failed (exit code 1)"
