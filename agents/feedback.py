"""Execution feedback: test runs inside the sandbox, and the reward they add up to.

``run_tests`` reads results from JUnit XML when the runner writes it, else
from the exit code. pytest writes it by itself: every test run sets
``PYTEST_ADDOPTS=--junitxml=$SLIPWAY_JUNIT_XML``, so any pytest invocation
(``pytest``, ``python -m pytest``, ``make test``, ``tox`` passing the variable
on) reports per test. **Other runners**: write JUnit XML to the path in
``$SLIPWAY_JUNIT_XML``, for example::

    npx jest --reporters=default --reporters=jest-junit   # with JEST_JUNIT_OUTPUT_FILE=$SLIPWAY_JUNIT_XML
    go test ./... 2>&1 | go-junit-report -set-exit-code > "$SLIPWAY_JUNIT_XML"
    cargo nextest run --profile ci                      # junit.path pointing at it
    mvn test && cp target/surefire-reports/*.xml "$SLIPWAY_JUNIT_XML"

A run that writes no file is judged by its exit code alone.
"""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from agents.sandbox.base import OutputCallback, Sandbox

JUNIT_ENV = "SLIPWAY_JUNIT_XML"
# pytest's note about the file it wrote for us: noise to the model.
_JUNIT_NOTE = re.compile(r"^-+ generated xml file: /tmp/slipway-junit-\w+\.xml -+\n", re.MULTILINE)
MAX_JUNIT_BYTES = 20_000_000
OUTPUT_TAIL = 6000
"""Characters of test output kept in a result (the end, where summaries are)."""

TestOutcome = Literal["passed", "failed", "error", "skipped"]


@dataclass
class TestResult:
    command: str
    exit_code: int | None
    """None when nothing ran (no test command)."""
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    tests: dict[str, TestOutcome] = field(default_factory=dict)
    """Per test id (``classname::name``), from JUnit XML; empty when judged by exit code."""
    failures: dict[str, str] = field(default_factory=dict)
    """First lines of each failure's message, for feedback to the model."""
    source: Literal["junit", "exit_code", "none"] = "none"
    output: str = ""
    """The tail of the combined output."""
    duration: float = 0.0
    timed_out: bool = False

    __test__ = False  # not a pytest class, whatever its name says

    @property
    def ran(self) -> bool:
        return self.exit_code is not None

    @property
    def ok(self) -> bool:
        return (
            self.ran and self.exit_code == 0 and not self.timed_out and self.failed == 0 and self.errors == 0
        )

    def summary(self) -> str:
        if not self.ran:
            return "no test command"
        if self.timed_out:
            return f"timed out after {self.duration:.0f} s"
        if self.source == "junit":
            parts = [f"{self.passed} passed", f"{self.failed} failed"]
            parts += [f"{self.errors} errors"] if self.errors else []
            parts += [f"{self.skipped} skipped"] if self.skipped else []
            return ", ".join(parts) + ("" if self.exit_code == 0 else f" (exit code {self.exit_code})")
        return "passed (exit code 0)" if self.exit_code == 0 else f"failed (exit code {self.exit_code})"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"ok": self.ok, "summary": self.summary()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TestResult:
        names = cls.__dataclass_fields__.keys()
        return cls(**{k: v for k, v in data.items() if k in names})


def parse_junit(data: bytes) -> tuple[dict[str, TestOutcome], dict[str, str]] | None:
    """Per-test outcomes and failure messages, or None when the document is not JUnit XML."""
    if len(data) > MAX_JUNIT_BYTES:
        return None
    try:
        # The file comes out of the sandbox; expat (2.4+, as bundled) refuses entity-expansion bombs.
        root = ET.fromstring(data)
    except ET.ParseError:
        return None
    if root.tag not in ("testsuites", "testsuite"):
        return None
    outcomes: dict[str, TestOutcome] = {}
    failures: dict[str, str] = {}
    for case in root.iter("testcase"):
        name = case.get("name", "?")
        classname = case.get("classname")
        test_id = f"{classname}::{name}" if classname else name
        outcome: TestOutcome = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed" if child.tag == "failure" else "error"
                message = (child.get("message") or "") + "\n" + (child.text or "")
                failures[test_id] = message.strip()[:1000]
                break
            if child.tag == "skipped":
                outcome = "skipped"
        outcomes[test_id] = outcome
    return outcomes, failures


def run_tests(
    sandbox: Sandbox,
    command: str,
    *,
    on_output: OutputCallback | None = None,
    timeout: float | None = None,
) -> TestResult:
    """Run the project's test command in the sandbox and read what it says."""
    if not command.strip():
        return TestResult(command="", exit_code=None)
    junit = f"/tmp/slipway-junit-{uuid.uuid4().hex}.xml"
    env = {
        JUNIT_ENV: junit,
        # No cache folders in the workspace, or they would show up in the change.
        "PYTEST_ADDOPTS": f"--junitxml={junit} -p no:cacheprovider",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    done = sandbox.exec(command, timeout=timeout, on_output=on_output, env=env)
    result = TestResult(
        command=command,
        exit_code=done.exit_code,
        source="exit_code",
        output=_JUNIT_NOTE.sub("", done.output)[-OUTPUT_TAIL:],
        duration=done.duration,
        timed_out=done.timed_out,
    )
    try:
        parsed = parse_junit(sandbox.read_file(junit))
    except OSError:  # no file: the runner does not write JUnit XML
        parsed = None
    if parsed is not None:
        result.tests, result.failures = parsed
        result.source = "junit"
        for outcome in result.tests.values():
            if outcome == "passed":
                result.passed += 1
            elif outcome == "failed":
                result.failed += 1
            elif outcome == "error":
                result.errors += 1
            else:
                result.skipped += 1
    return result


@dataclass
class DiffStats:
    files: int = 0
    additions: int = 0
    deletions: int = 0


# Untracked files count too (a new test file is part of the change); binary files count as files only.
_DIFF_SCRIPT = r"""
g() { git -c safe.directory='*' -c core.quotepath=off "$@"; }
g diff --numstat {base} -- . || exit 3
g ls-files --others --exclude-standard -z | while IFS= read -r -d '' f; do
  if grep -Iq . "$f" 2>/dev/null; then printf '%s\t0\t%s\n' "$(wc -l < "$f")" "$f"; else printf -- '-\t-\t%s\n' "$f"; fi
done
"""


def diff_stats(sandbox: Sandbox, base: str = "HEAD") -> DiffStats | None:
    """Size of the change against ``base`` (a commit), counted inside the sandbox; None outside git."""
    done = sandbox.exec(_DIFF_SCRIPT.replace("{base}", base), timeout=60)
    if done.exit_code != 0:
        return None
    stats = DiffStats()
    for line in done.output.splitlines():
        parts = line.split("\t")
        if len(parts) < 3:
            continue
        stats.files += 1
        stats.additions += int(parts[0]) if parts[0].isdigit() else 0
        stats.deletions += int(parts[1]) if parts[1].isdigit() else 0
    return stats


@dataclass
class Reward:
    tests_before: dict[str, int]
    tests_after: dict[str, int]
    newly_passing: list[str]
    """Tests that pass now and did not before (including tests the change added)."""
    regressions: list[str]
    """Tests that passed before and do not now (failing, erroring, or gone)."""
    still_failing: list[str]
    resolved: bool | None
    """True when the final run passes whole and nothing regressed; None when there are no tests."""
    diff: DiffStats | None
    score: float
    """1.0 when resolved, else 0.0: the scalar RL tooling expects."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _counts(result: TestResult | None) -> dict[str, int]:
    if result is None or not result.ran:
        return {}
    return {
        "passed": result.passed,
        "failed": result.failed,
        "errors": result.errors,
        "skipped": result.skipped,
        "exit_code": result.exit_code or 0,
    }


def compute_reward(
    baseline: TestResult | None, final: TestResult | None, diff: DiffStats | None = None
) -> Reward:
    # Per-test lists only when both runs reported per test; else they would be noise.
    comparable = baseline is not None and final is not None and baseline.source == final.source == "junit"
    before = baseline.tests if comparable and baseline is not None else {}
    after = final.tests if comparable and final is not None else {}
    bad = ("failed", "error")
    newly = sorted(t for t, o in after.items() if o == "passed" and before.get(t) != "passed")
    regressions = sorted(t for t, o in before.items() if o == "passed" and after.get(t) != "passed")
    still = sorted(t for t, o in after.items() if o in bad and before.get(t) in bad)
    resolved = None if final is None or not final.ran else (final.ok and not regressions)
    return Reward(
        tests_before=_counts(baseline),
        tests_after=_counts(final),
        newly_passing=newly,
        regressions=regressions,
        still_failing=still,
        resolved=resolved,
        diff=diff,
        score=1.0 if resolved else 0.0,
    )
