"""SWE-bench-style evaluation: task instances, and grading a patch the way the harness does.

Instances (the rows of a SWE-bench-format file) are read by ``agents.instances``.

``grade`` follows the official harness on a workspace checked out at the
instance's ``base_commit``:

1. apply the model's patch (``git apply``); a patch that does not apply is an
   **error**, not a failure. An empty patch is **empty** (the harness's
   ``empty_patch``). The harness's last fallback, GNU ``patch --fuzz=5``, is
   not used: it would run on the worker, and our patches are diffs against
   the exact base commit, so they apply exactly or not at all.
2. reset every file the ``test_patch`` touches to the base commit (a test
   file the agent edited goes back; one it created that the test patch adds
   is removed), then apply ``test_patch``;
3. run the tests named in FAIL_TO_PASS and PASS_TO_PASS with pytest inside
   the sandbox, and read each one's status (when an id names no test, pytest
   refuses the whole run: the files the ids live in run instead, as the
   harness runs the test files, and the id that names nothing counts as missing);
4. **resolved** when no test of either list failed. As in the harness, a test
   counts as passing when it PASSED or XFAILed, as failing when it FAILED,
   ERRORed or is missing from the results; a SKIPPED test counts neither way.

Test ids are pytest node ids (``tests/test_calc.py::TestDiv::test_div[2-1]``).
Statuses come from two sources, merged: the JUnit XML pytest writes, whose
``(classname, name)`` pairs map back to node ids the way pytest builds them
(``junit_key``: the path's ``/`` become ``.``, ``.py`` is dropped, classes
follow, parameters stay on the name), and the ``-rA`` short summary
(``PASSED <node id>``, ``FAILED <node id> - message``, ``XFAIL ...``), which
names node ids exactly and wins where both speak. pytest runs with
``--rootdir=/workspace`` so node ids are relative to the repository root
whatever the repository's own configuration says.
"""

from __future__ import annotations

import codecs
import re
import shlex
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from agents.git import GitError
from agents.sandbox.base import Sandbox
from agents.workspace import Workspace

if TYPE_CHECKING:
    from agents.instances import Instance

DEFAULT_RUNNER = "python3 -m pytest -rA"
"""The test runner; the node ids are appended. Must be pytest (the ids are pytest node ids)."""
LOG_TAIL = 20_000
"""Characters of the test log kept in a grade."""
MAX_LOG_BYTES = 20_000_000

GradeStatus = Literal["resolved", "unresolved", "error", "empty"]
TestStatus = Literal["PASSED", "FAILED", "ERROR", "SKIPPED", "XFAIL", "XPASS"]
PASSING = frozenset({"PASSED", "XFAIL"})
FAILING = frozenset({"FAILED", "ERROR"})
_STATUSES: tuple[TestStatus, ...] = ("PASSED", "FAILED", "ERROR", "SKIPPED", "XFAIL", "XPASS")

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


# -- patches -----------------------------------------------------------------------


class PatchError(Exception):
    """A patch does not apply; the message is git's reason."""


def patch_paths(patch: str) -> list[str]:
    """Every path a unified diff touches (before and after a rename), in order, each once."""
    paths: list[str] = []
    for line in patch.splitlines():
        if line.startswith(("--- ", "+++ ")):
            name = _diff_path(line[4:])
            if name is not None:
                paths.append(name)
    return list(dict.fromkeys(paths))


def _diff_path(raw: str) -> str | None:
    raw = raw.split("\t", 1)[0].rstrip()
    if raw.startswith('"') and raw.endswith('"') and len(raw) > 1:  # git quotes unusual names, C-style
        raw = codecs.escape_decode(raw[1:-1].encode())[0].decode("utf-8", "replace")
    if raw == "/dev/null":
        return None
    return raw[2:] if raw.startswith(("a/", "b/")) else raw


def apply_patch(workspace: Workspace, patch: str) -> None:
    """Apply ``patch`` to the working tree with the worker's hardened git; ``PatchError`` when it does not apply."""
    if not patch.endswith("\n"):
        patch += "\n"  # a diff pasted without its last newline is otherwise "corrupt"
    try:
        workspace.git("apply", "--verbose", "--whitespace=nowarn", input=patch)
    except GitError as exc:
        raise PatchError(str(exc).removeprefix("git apply failed: ")) from None


def reset_files(workspace: Workspace, commit: str, paths: Iterable[str]) -> list[str]:
    """Put ``paths`` back as they are at ``commit``; remove those that do not exist there. Return what changed."""
    wanted = [p for p in dict.fromkeys(paths) if _safe_relative(p)]
    if not wanted:
        return []
    listed = workspace.git("--literal-pathspecs", "ls-tree", "-r", "-z", "--name-only", commit, "--", *wanted)
    existing = [p for p in listed.split("\0") if p]
    if existing:
        workspace.git("--literal-pathspecs", "checkout", commit, "--", *existing)
    removed = []
    for relative in wanted:
        if relative in existing:
            continue
        target = workspace.path / relative
        # A planted symlink must not take the removal outside the workspace.
        if (target.exists() or target.is_symlink()) and target.parent.resolve().is_relative_to(
            workspace.path.resolve()
        ):
            if target.is_dir() and not target.is_symlink():
                continue
            target.unlink()
            removed.append(relative)
    return existing + removed


def _safe_relative(path: str) -> bool:
    parts = Path(path).parts
    return bool(parts) and not Path(path).is_absolute() and ".." not in parts and parts[0] != ".git"


# -- test statuses -----------------------------------------------------------------


def junit_key(node_id: str) -> str:
    """The ``classname::name`` pytest's JUnit XML gives the test ``node_id`` (see ``TestResult.tests``)."""
    path, bracket, params = node_id.partition("[")
    names = path.split("::")
    names[0] = re.sub(r"\.py$", "", names[0].replace("/", "."))
    names[-1] += bracket + params
    classname = ".".join(names[:-1])
    return f"{classname}::{names[-1]}" if classname else names[-1]


def parse_junit_statuses(data: bytes) -> dict[str, TestStatus]:
    """``classname::name`` -> status, from pytest's JUnit XML (xfail told apart from skip)."""
    if not data or len(data) > MAX_LOG_BYTES:
        return {}
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return {}
    statuses: dict[str, TestStatus] = {}
    for case in root.iter("testcase"):
        classname, name = case.get("classname"), case.get("name", "?")
        key = f"{classname}::{name}" if classname else name
        status: TestStatus = "PASSED"
        for child in case:
            if child.tag == "failure":
                status = "FAILED"
            elif child.tag == "error":
                status = "ERROR"
            elif child.tag == "skipped":
                status = "XFAIL" if child.get("type") == "pytest.xfail" else "SKIPPED"
            else:
                continue
            break
        # A test that passed and then failed in teardown appears twice; the bad news wins.
        if key not in statuses or status in FAILING:
            statuses[key] = status
    return statuses


def parse_pytest_log(text: str, wanted: Iterable[str]) -> dict[str, TestStatus]:
    """Statuses of the ``wanted`` node ids from pytest's ``-rA`` short summary."""
    wanted_set = set(wanted)
    found: dict[str, TestStatus] = {}
    for raw in text.splitlines():
        line = _ANSI.sub("", raw).strip()
        status = next((s for s in _STATUSES if line.startswith(s + " ")), None)
        if status is None:
            continue
        rest = line[len(status) + 1 :].strip()
        # "FAILED id - message": the id may itself hold " - " (a parameter), so try the longest first.
        parts = rest.split(" - ")
        for cut in range(len(parts), 0, -1):
            candidate = " - ".join(parts[:cut]).strip()
            if candidate in wanted_set:
                found[candidate] = status
                break
    return found


def test_statuses(node_ids: Iterable[str], junit: bytes, log: str) -> dict[str, TestStatus]:
    ids = list(node_ids)
    by_key = parse_junit_statuses(junit)
    statuses: dict[str, TestStatus] = {t: by_key[junit_key(t)] for t in ids if junit_key(t) in by_key}
    statuses.update(parse_pytest_log(log, ids))
    return statuses


def tests_status(instance: Instance, statuses: dict[str, TestStatus]) -> dict[str, dict[str, list[str]]]:
    """The harness's ``tests_status``: success and failure per list (skipped tests in neither)."""

    def split(ids: Iterable[str]) -> dict[str, list[str]]:
        ids = list(ids)
        return {
            "success": [t for t in ids if statuses.get(t) in PASSING],
            "failure": [t for t in ids if t not in statuses or statuses[t] in FAILING],
        }

    return {
        "FAIL_TO_PASS": split(instance.fail_to_pass),
        "PASS_TO_PASS": split(instance.pass_to_pass),
        # Computed by the harness only from a gold run; kept for the shape.
        "FAIL_TO_FAIL": {"success": [], "failure": []},
        "PASS_TO_FAIL": {"success": [], "failure": []},
    }


# -- grading -------------------------------------------------------------------------


@dataclass
class Grade:
    instance_id: str
    status: GradeStatus
    patch_applied: bool = False
    tests_status: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    test_results: dict[str, str] = field(default_factory=dict)
    """Node id -> PASSED, FAILED, ERROR, SKIPPED, XFAIL, XPASS, or ``missing`` (not in the results)."""
    error: str = ""
    log: str = ""
    """The tail of the test run's output (pytest ``-rA``)."""
    exit_code: int | None = None
    duration: float = 0.0
    reset_files: list[str] = field(default_factory=list)
    """Files of the test patch that were put back to the base commit before it was applied."""

    @property
    def resolved(self) -> bool:
        return self.status == "resolved"

    def report(self) -> dict[str, Any]:
        """This instance's entry in the harness's ``report.json``."""
        return {
            "patch_is_None": self.status == "empty",
            "patch_exists": self.status != "empty",
            "patch_successfully_applied": self.patch_applied,
            "resolved": self.resolved,
            "tests_status": self.tests_status,
        }

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Grade:
        names = cls.__dataclass_fields__.keys()
        return cls(**{k: v for k, v in data.items() if k in names})


def grade(
    instance: Instance,
    patch: str,
    workspace: Workspace,
    start_sandbox: Callable[[], Sandbox],
    *,
    runner: str = DEFAULT_RUNNER,
    timeout: float = 1800.0,
) -> Grade:
    """Grade ``patch`` on ``workspace``, a fresh checkout of ``instance.base_commit``.

    Git runs on the worker (hardened, as for every workspace); the tests run in the
    sandbox ``start_sandbox()`` starts over the workspace, after the patches are in.
    """
    started = time.monotonic()

    def done(status: GradeStatus, **fields: Any) -> Grade:
        return Grade(instance.instance_id, status, duration=round(time.monotonic() - started, 3), **fields)

    if workspace.resolve(instance.base_commit) != workspace.head():
        return done("error", error=f"the workspace is not at the base commit {instance.base_commit}")
    if not patch.strip():
        return done("empty", error="the run produced no patch")
    try:
        apply_patch(workspace, patch)
    except PatchError as exc:
        return done("error", error=f"the patch does not apply: {exc}")
    reset = reset_files(workspace, instance.base_commit, patch_paths(instance.test_patch))
    try:
        apply_patch(workspace, instance.test_patch)
    except PatchError as exc:
        return done(
            "error", patch_applied=True, reset_files=reset, error=f"the test patch does not apply: {exc}"
        )
    with start_sandbox() as sandbox:
        statuses, log, exit_code, problem = run_tests(sandbox, instance, runner=runner, timeout=timeout)
    if problem:
        return done(
            "error", patch_applied=True, reset_files=reset, log=log, exit_code=exit_code, error=problem
        )
    report = tests_status(instance, statuses)
    resolved = not report["FAIL_TO_PASS"]["failure"] and not report["PASS_TO_PASS"]["failure"]
    return done(
        "resolved" if resolved else "unresolved",
        patch_applied=True,
        tests_status=report,
        test_results={t: statuses.get(t, "missing") for t in instance.tests},
        log=log,
        exit_code=exit_code,
        reset_files=reset,
    )


def run_tests(
    sandbox: Sandbox, instance: Instance, *, runner: str = DEFAULT_RUNNER, timeout: float = 1800.0
) -> tuple[dict[str, TestStatus], str, int | None, str]:
    """Run the instance's tests; (statuses, log tail, exit code, problem or "").

    pytest refuses the whole run (exit code 4) when one node id names no test, say a test
    the patch renamed; then the files the ids live in run instead, so that every id that
    still exists gets its status and the others count as missing, as in the harness.
    """
    ids = instance.tests
    statuses, log, exit_code, timed_out = _pytest(
        sandbox, runner, [shlex.quote(t) for t in ids], ids, timeout
    )
    if exit_code == 4 and not statuses and not timed_out:
        files = list(dict.fromkeys(t.split("::", 1)[0] for t in ids))
        existing = '"${files[@]}"'
        setup = (
            "files=(); for f in "
            + " ".join(shlex.quote(f) for f in files)
            + '; do [ -e "$f" ] && files+=("$f"); done; '
        )
        statuses, log, exit_code, timed_out = _pytest(sandbox, runner, [existing], ids, timeout, setup=setup)
    if timed_out:
        return {}, log, None, f"the tests took longer than {timeout:g} s"
    return statuses, log, exit_code, ""


def _pytest(
    sandbox: Sandbox, runner: str, arguments: list[str], ids: list[str], timeout: float, setup: str = ""
) -> tuple[dict[str, TestStatus], str, int | None, bool]:
    token = uuid.uuid4().hex
    junit, log_path = f"/tmp/slipway-grade-{token}.xml", f"/tmp/slipway-grade-{token}.log"
    # The log goes to a file: the command's own output is capped, and the summary is at its end.
    command = (
        f"{setup}{runner} --rootdir=/workspace -p no:cacheprovider --junitxml={junit} {' '.join(arguments)} "
        f'> {log_path} 2>&1; echo "exit code $?"'
    )
    result = sandbox.exec(command, timeout=timeout, env={"PYTHONDONTWRITEBYTECODE": "1"})
    log = _read(sandbox, log_path).decode("utf-8", "replace")
    statuses = {} if result.timed_out else test_statuses(ids, _read(sandbox, junit), log)
    return statuses, log[-LOG_TAIL:], _exit_code(result.output), result.timed_out


def _read(sandbox: Sandbox, path: str) -> bytes:
    try:
        return sandbox.read_file(path)
    except OSError:
        return b""


def _exit_code(output: str) -> int | None:
    match = re.search(r"exit code (\d+)\s*$", output)
    return int(match.group(1)) if match else None


# -- the harness's run report ----------------------------------------------------------


def harness_report(instance_ids: Iterable[str], grades: dict[str, Grade | None]) -> dict[str, Any]:
    """The summary the harness writes after a run (``<model>.<run_id>.json``), for the same cross-check.

    ``instance_ids`` are all of the suite's; ``grades`` maps each graded one to its grade
    (None while it is still pending).
    """
    ids = list(dict.fromkeys(instance_ids))
    done = {i: g for i, g in grades.items() if g is not None}
    submitted = [i for i in ids if i in grades]
    by = {
        s: sorted(i for i, g in done.items() if g.status == s)
        for s in ("resolved", "unresolved", "error", "empty")
    }
    completed = sorted(by["resolved"] + by["unresolved"])
    return {
        "total_instances": len(ids),
        "submitted_instances": len(submitted),
        "completed_instances": len(completed),
        "resolved_instances": len(by["resolved"]),
        "unresolved_instances": len(by["unresolved"]),
        "empty_patch_instances": len(by["empty"]),
        "error_instances": len(by["error"]),
        "completed_ids": completed,
        "incomplete_ids": sorted(i for i in ids if i not in done),
        "empty_patch_ids": by["empty"],
        "submitted_ids": sorted(submitted),
        "resolved_ids": by["resolved"],
        "unresolved_ids": by["unresolved"],
        "error_ids": by["error"],
        "schema_version": 2,
    }
