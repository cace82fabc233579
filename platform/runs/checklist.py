"""The plan as a checklist that ticks as the agent goes.

The agent does not say which step of its plan it is on, so each step is given the kind
of work it names (read, edit, test, submit) and each tool call the kind of work it does;
a call moves the checklist to the first step from the current one on that names the
same kind of work, and the steps before it are done. A submitted run ticks them all.
A guess, and a cautious one: it only ever moves forward, one tool call at a time.
"""

from __future__ import annotations

import re
from typing import Any


class Plan:
    """A plan's steps and how far the agent got: ``current`` is the step in progress."""

    def __init__(self) -> None:
        self.steps: list[str] = []
        self.kinds: list[str] = []
        self.current = -1
        self.complete = False
        self.awaiting = False
        self.approved = False
        self.edited = False

    def set(self, payload: dict[str, Any]) -> None:
        self.steps = [str(s) for s in payload.get("steps") or []]
        self.kinds = [step_kind(s) for s in self.steps]
        self.current = -1
        self.awaiting = bool(payload.get("awaiting_approval"))
        self.approved = bool(payload.get("approved"))
        self.edited = bool(payload.get("edited"))

    def advance(self, work: str) -> bool:
        if self.complete:
            return False
        for index in range(max(self.current, 0), len(self.steps)):
            if self.kinds[index] == work:
                if index == self.current:
                    return False
                self.current = index
                return True
        return False

    def finish(self) -> bool:
        changed = not self.complete and bool(self.steps)
        self.complete = True
        return changed

    @property
    def items(self) -> list[tuple[str, str]]:
        def state(index: int) -> str:
            if self.complete or index < self.current:
                return "done"
            return "active" if index == self.current else "todo"

        return [(step, state(i)) for i, step in enumerate(self.steps)]

    @property
    def done(self) -> int:
        return sum(1 for _, s in self.items if s == "done")


_READ = {
    "read", "look", "inspect", "view", "open", "find", "locate", "understand", "explore", "examine",
    "review", "study", "search", "investigate", "reproduce", "identify", "check",
}  # fmt: skip
_EDIT = {
    "fix", "change", "edit", "update", "add", "modify", "implement", "replace", "split", "write",
    "refactor", "remove", "rename", "create", "handle", "make", "use", "correct", "adjust", "apply",
    "patch", "delete",
}  # fmt: skip
_TEST = {"run", "rerun", "verify", "test", "confirm", "ensure", "validate"}
_SUBMIT = {"submit", "finish", "commit", "summarise", "summarize", "report"}
_WORD = re.compile(r"[a-z]+")


def step_kind(step: str) -> str:
    """What kind of work a plan step names: read, edit, test, submit or other."""
    words = _WORD.findall(step.lower())
    if not words:
        return "other"
    first = words[0]
    if first in _SUBMIT:
        return "submit"
    if first in _TEST and any(w.startswith("test") for w in words):
        return "test"
    if first in _READ:
        return "read"
    if first in _EDIT:
        return "edit"
    if first in ("verify", "confirm", "ensure", "validate"):
        return "test"
    return "other"


_TEST_COMMAND = re.compile(r"\b(pytest|unittest|tox|nox|test|tests|jest|vitest|cargo test|go test|npm test)\b")
_EDIT_COMMAND = re.compile(r"(\bsed\s+-i\b|\bpatch\b|\bmv\b|\bcp\b|\brm\b|\btee\b|(?<![0-9&])>\s*[\w./-])")


def call_kind(name: str, args: dict[str, Any]) -> str:
    """What kind of work a tool call does, in the plan's terms."""
    if name == "submit":
        return "submit"
    if name == "run_tests":
        return "test"
    if name in ("edit_file", "create_file"):
        return "edit"
    if name == "bash":
        command = str(args.get("command", ""))
        if _TEST_COMMAND.search(command):
            return "test"
        if _EDIT_COMMAND.search(command):
            return "edit"
    return "read"
