"""The tools the model may call. Every one runs through the sandbox, never on the host.

A tool returns an ``Observation`` (what the model reads next) or raises
``ToolError`` (an error observation: a missing file, an ambiguous edit).
``submit`` raises ``Submitted``; the loop decides whether to accept it.
Paths are confined to the workspace here as well as by the sandbox, so a
model that wanders gets told rather than silently confined.
"""

from __future__ import annotations

import posixpath
import shlex
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agents.config import AgentConfig
from agents.feedback import TestResult, run_tests
from agents.llm.base import ToolSpec
from agents.outcomes import Submitted
from agents.prompts import test_report
from agents.pysyntax import syntax_error
from agents.sandbox.base import WORKSPACE, OutputCallback, Sandbox

# Every agent command: no cache folders in the workspace, so they stay out of the change.
COMMAND_ENV = {"PYTHONDONTWRITEBYTECODE": "1", "PYTEST_ADDOPTS": "-p no:cacheprovider"}
SEARCH_LINES = 200


class ToolError(Exception):
    """The call was understood but cannot be done; the message tells the model why."""


@dataclass
class Observation:
    text: str
    error: bool = False
    exit_code: int | None = None
    test_result: TestResult | None = None


def _schema(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required}


_STR = {"type": "string"}

SPECS: dict[str, ToolSpec] = {
    spec.name: spec
    for spec in (
        ToolSpec(
            "bash",
            "Run a shell command with bash in /workspace. Each call is a fresh shell (files persist; cd and "
            "variables do not). No network. Long output is cut in the middle: prefer targeted commands.",
            _schema(
                {
                    "command": _STR,
                    "timeout": {"type": "integer", "description": "seconds; capped by the run"},
                },
                ["command"],
            ),
        ),
        ToolSpec(
            "view_file",
            "Show a file with line numbers (a window of it with start_line/end_line), or list a directory.",
            _schema(
                {"path": _STR, "start_line": {"type": "integer"}, "end_line": {"type": "integer"}}, ["path"]
            ),
        ),
        ToolSpec(
            "edit_file",
            "Replace old_text with new_text in a file. old_text must occur exactly once, whitespace included: "
            "add surrounding lines to make it unique. An edit that leaves a Python file unparsable is refused.",
            _schema({"path": _STR, "old_text": _STR, "new_text": _STR}, ["path", "old_text", "new_text"]),
        ),
        ToolSpec(
            "create_file",
            "Create a file with the given content (folders are created). An existing file is kept unless overwrite is true.",
            _schema({"path": _STR, "content": _STR, "overwrite": {"type": "boolean"}}, ["path", "content"]),
        ),
        ToolSpec(
            "search",
            "Search file contents with ripgrep (a regular expression); answers file:line:text.",
            _schema(
                {
                    "pattern": _STR,
                    "path": _STR,
                    "glob": {"type": "string", "description": "e.g. *.py"},
                    "ignore_case": {"type": "boolean"},
                },
                ["pattern"],
            ),
        ),
        ToolSpec(
            "run_tests",
            "Run the project's test command and get the results: what fails and why.",
            _schema({}, []),
        ),
        ToolSpec(
            "submit",
            "Finish: submit the change with a short summary of what you changed and why. The tests run first.",
            _schema({"summary": _STR}, ["summary"]),
        ),
    )
}


def check_arguments(spec: ToolSpec, arguments: dict[str, Any]) -> dict[str, Any]:
    """Required arguments present, simple types right (numbers and booleans written as strings forgiven)."""
    properties = spec.parameters["properties"]
    for name in spec.parameters["required"]:
        if name not in arguments:
            raise ToolError(f"{spec.name}: missing argument '{name}'")
    clean: dict[str, Any] = {}
    for name, value in arguments.items():
        kind = properties.get(name, {}).get("type")
        if kind is None or value is None:
            continue  # unknown extras and explicit nulls are ignored rather than failing the call
        if kind == "integer" and not isinstance(value, bool):
            try:
                value = int(value)
            except (TypeError, ValueError):
                raise ToolError(f"{spec.name}: '{name}' must be an integer") from None
        elif kind == "boolean" and isinstance(value, str):
            value = value.strip().lower() in ("true", "1", "yes")
        elif kind == "string" and not isinstance(value, str):
            raise ToolError(f"{spec.name}: '{name}' must be a string")
        clean[name] = value
    return clean


def workspace_path(path: str) -> str:
    """An absolute path inside the workspace, or ToolError."""
    resolved = posixpath.normpath(posixpath.join(WORKSPACE, path.strip()))
    if resolved != WORKSPACE and not resolved.startswith(WORKSPACE + "/"):
        raise ToolError(f"{path}: refused, the path is outside the workspace ({WORKSPACE})")
    return resolved


def numbered(lines: list[str], first: int) -> str:
    return "\n".join(f"{n:6d}\t{line}" for n, line in enumerate(lines, start=first))


class Toolbox:
    def __init__(
        self,
        sandbox: Sandbox,
        config: AgentConfig,
        *,
        test_command: str,
        time_left: Callable[[], float | None] = lambda: None,
    ) -> None:
        self.sandbox = sandbox
        self.config = config
        self.test_command = test_command.strip()
        self._time_left = time_left
        self.specs = [SPECS[n] for n in SPECS if n != "run_tests"]
        if self.test_command:
            # Named in the description, so the model knows what it runs (and can run part of it with bash).
            tests = SPECS["run_tests"]
            described = ToolSpec(
                tests.name, f"{tests.description} It runs: {self.test_command}", tests.parameters
            )
            self.specs.insert(len(self.specs) - 1, described)

    def spec(self, name: str) -> ToolSpec | None:
        return next((s for s in self.specs if s.name == name), None)

    def _timeout(self, limit: float, asked: int | None = None) -> float:
        timeout = min(limit, asked) if asked and asked > 0 else limit
        left = self._time_left()
        return max(1.0, min(timeout, left)) if left is not None else timeout

    def call(
        self, name: str, arguments: dict[str, Any], *, on_output: OutputCallback | None = None
    ) -> Observation:
        spec = self.spec(name)
        if spec is None:
            raise KeyError(name)
        args = check_arguments(spec, arguments)
        handler: Callable[..., Observation] = getattr(self, f"_{name}")
        return handler(on_output=on_output, **args)

    # -- the tools -------------------------------------------------------------

    def _bash(
        self, *, command: str, timeout: int | None = None, on_output: OutputCallback | None
    ) -> Observation:
        if not command.strip():
            raise ToolError("bash: the command is empty")
        done = self.sandbox.exec(
            command,
            timeout=self._timeout(self.config.command_timeout, timeout),
            on_output=on_output,
            env=COMMAND_ENV,
        )
        notes = [f"[exit code {done.exit_code}]"]
        if done.timed_out:
            notes.append(f"[timed out after {done.duration:.0f} s: the command and its children were killed]")
        if done.oom_killed:
            notes.append("[killed: the sandbox ran out of memory]")
        if done.truncated:
            notes.append("[output cut by the sandbox's output limit]")
        body = done.output if done.output.strip() else "(no output)"
        return Observation(
            f"{body.rstrip()}\n" + "\n".join(notes), error=done.exit_code != 0, exit_code=done.exit_code
        )

    def _read(self, path: str) -> bytes:
        try:
            return self.sandbox.read_file(path)
        except IsADirectoryError:
            raise ToolError(f"{path} is a directory") from None
        except OSError as exc:  # a broken sandbox raises SandboxError, which goes on up
            raise ToolError(f"{path}: cannot read it ({exc.strerror or exc})") from None

    def _write(self, path: str, data: bytes) -> None:
        try:
            self.sandbox.write_file(path, data)
        except IsADirectoryError:
            raise ToolError(f"{path} is a directory") from None
        except OSError as exc:
            raise ToolError(f"{path}: cannot write it ({exc.strerror or exc})") from None

    def _view_file(
        self,
        *,
        path: str,
        start_line: int | None = None,
        end_line: int | None = None,
        on_output: OutputCallback | None,
    ) -> Observation:
        target = workspace_path(path)
        try:
            data = self.sandbox.read_file(target)
        except IsADirectoryError:
            listing = self.sandbox.exec(f"ls -Ap -- {shlex.quote(target)}", timeout=30)
            return Observation(f"{target}/ is a directory:\n{listing.output.rstrip() or '(empty)'}")
        except OSError as exc:
            raise ToolError(f"{target}: cannot read it ({exc.strerror or exc})") from None
        if b"\0" in data[:8192]:
            return Observation(f"{target} is a binary file of {len(data)} bytes.")
        lines = data.decode("utf-8", "replace").splitlines()
        if not lines:
            return Observation(f"{target} is empty.")
        first = max(1, start_line or 1)
        last = min(len(lines), end_line or len(lines), first + self.config.view_lines - 1)
        if first > len(lines):
            raise ToolError(f"{target} has only {len(lines)} lines")
        text = numbered(lines[first - 1 : last], first)
        if first > 1 or last < len(lines):
            text += f"\n[lines {first}-{last} of {len(lines)}]"
        return Observation(text)

    def _edit_file(
        self, *, path: str, old_text: str, new_text: str, on_output: OutputCallback | None
    ) -> Observation:
        target = workspace_path(path)
        if not old_text:
            raise ToolError("edit_file: old_text is empty; use create_file for a new file")
        try:
            before = self._read(target).decode("utf-8")
        except UnicodeDecodeError:
            raise ToolError(f"{target} is not UTF-8 text; change it with bash instead") from None
        if "\r\n" in before and "\r\n" not in old_text:
            # Models write \n; a file with Windows line ends should still be editable.
            old_text, new_text = old_text.replace("\n", "\r\n"), new_text.replace("\n", "\r\n")
        count = before.count(old_text)
        if count == 0:
            hint = ""
            if old_text.strip() and old_text.strip() in before:
                hint = " (it does occur with different leading or trailing whitespace)"
            raise ToolError(
                f"old_text was not found in {target}{hint}. View the file and copy the text exactly."
            )
        if count > 1:
            at, lines = 0, []
            for _ in range(count):
                at = before.index(old_text, at)
                lines.append(str(before.count("\n", 0, at) + 1))
                at += 1
            raise ToolError(
                f"old_text occurs {count} times in {target} (lines {', '.join(lines)}); "
                "include more surrounding lines so it occurs once"
            )
        after = before.replace(old_text, new_text, 1)
        if target.endswith((".py", ".pyi")):
            self._refuse_broken_python(target, before, after)
        self._write(target, after.encode("utf-8"))
        start = before.count("\n", 0, before.index(old_text)) + 1
        end = start + new_text.count("\n")
        lines = after.splitlines()
        lo, hi = max(1, start - 3), min(len(lines), end + 3)
        return Observation(f"Edited {target}. Lines {lo}-{hi} now read:\n{numbered(lines[lo - 1 : hi], lo)}")

    def _refuse_broken_python(self, target: str, before: str, after: str) -> None:
        problem = syntax_error(after, target)
        # An already broken file may be fixed in several edits: only refuse edits that break a good one.
        if problem is None or syntax_error(before, target) is not None:
            return
        # The host parser may be older than the project's Python: ask the sandbox's before refusing.
        probe = f"/tmp/slipway-syntax-{uuid.uuid4().hex}.py"
        try:
            self.sandbox.write_file(probe, after.encode("utf-8"))
        except OSError:
            raise ToolError(f"Edit refused: {target} would no longer parse as Python.\n{problem}") from None
        check = self.sandbox.exec(
            f"python3 -c 'import ast, sys; ast.parse(open(sys.argv[1], \"rb\").read(), sys.argv[1])' {probe}; "
            f"code=$?; rm -f {probe}; exit $code",
            timeout=30,
        )
        if check.exit_code == 0:
            return
        raise ToolError(
            f"Edit refused: {target} would no longer parse as Python.\n{problem}\nThe file is unchanged."
        )

    def _create_file(
        self, *, path: str, content: str, overwrite: bool = False, on_output: OutputCallback | None
    ) -> Observation:
        target = workspace_path(path)
        if target == WORKSPACE:
            raise ToolError("create_file: give a file path, not the workspace itself")
        folder = posixpath.dirname(target)
        # One round trip: make the folder, then say whether the file is already there (exit 3).
        probe = self.sandbox.exec(
            f"mkdir -p -- {shlex.quote(folder)} || exit 2; [ -e {shlex.quote(target)} ] && exit 3; exit 0",
            timeout=30,
        )
        if probe.exit_code not in (0, 3):
            raise ToolError(f"cannot create {folder}: {probe.output.strip()}")
        exists = probe.exit_code == 3
        if exists and not overwrite:
            raise ToolError(f"{target} already exists; use edit_file, or create_file with overwrite=true")
        self._write(target, content.encode("utf-8"))
        text = f"{'Overwrote' if exists else 'Created'} {target} ({len(content.splitlines())} lines)."
        if target.endswith((".py", ".pyi")):
            problem = syntax_error(content, target)
            if problem is not None:
                text += f"\nWarning: it does not parse as Python:\n{problem}"
        return Observation(text)

    def _search(
        self,
        *,
        pattern: str,
        path: str = ".",
        glob: str | None = None,
        ignore_case: bool = False,
        on_output: OutputCallback | None,
    ) -> Observation:
        where = posixpath.relpath(workspace_path(path), WORKSPACE)
        flags = (
            "--line-number --no-heading --color=never --max-columns=300 --max-columns-preview --max-count=50"
        )
        flags += " -i" if ignore_case else ""
        flags += f" -g {shlex.quote(glob)}" if glob else ""
        command = f"rg {flags} -e {shlex.quote(pattern)} -- {shlex.quote(where)}"
        done = self.sandbox.exec(command, timeout=self._timeout(60))
        if done.exit_code == 127:  # no ripgrep in this image
            command = (
                f"grep -rnIE {'-i ' if ignore_case else ''}-e {shlex.quote(pattern)} -- {shlex.quote(where)}"
            )
            done = self.sandbox.exec(command, timeout=self._timeout(60))
        if done.exit_code == 1:
            return Observation(f"No matches for {pattern!r} in {'the workspace' if where == '.' else where}.")
        if done.exit_code != 0:
            raise ToolError(f"search failed (exit code {done.exit_code}): {done.output.strip()[:1000]}")
        lines = [line.removeprefix("./") for line in done.output.splitlines()]
        text = "\n".join(lines[:SEARCH_LINES])
        if len(lines) > SEARCH_LINES:
            text += f"\n[{len(lines) - SEARCH_LINES} more matching lines; narrow the pattern, path or glob]"
        return Observation(text)

    def _run_tests(self, *, on_output: OutputCallback | None) -> Observation:
        result = self.run_tests(on_output)
        return Observation(
            test_report(result), error=not result.ok, exit_code=result.exit_code, test_result=result
        )

    def run_tests(self, on_output: OutputCallback | None = None) -> TestResult:
        return run_tests(
            self.sandbox,
            self.test_command,
            on_output=on_output,
            timeout=self._timeout(self.config.test_timeout),
        )

    def _submit(self, *, summary: str, on_output: OutputCallback | None) -> Observation:
        raise Submitted(summary.strip())
