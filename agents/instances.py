"""SWE-bench task instances: one row of a SWE-bench-format file, read and checked.

A row has ``instance_id``, ``repo`` (owner/name), ``base_commit``,
``problem_statement``, ``hints_text``, ``test_patch``, ``FAIL_TO_PASS`` and
``PASS_TO_PASS``; the two lists come as JSON lists or as JSON-encoded strings
(as the Hugging Face datasets ship them). Files are JSON Lines, a JSON array,
or a single object. Every other column (``version``, ``created_at``, the gold
``patch``...) is kept as it came.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from agents.evaluation import patch_paths

FIELDS = (
    "instance_id", "repo", "base_commit", "problem_statement", "hints_text", "test_patch", "FAIL_TO_PASS", "PASS_TO_PASS",
)  # fmt: skip
REQUIRED = ("instance_id", "repo", "base_commit", "problem_statement", "test_patch", "FAIL_TO_PASS")
_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_COMMIT = re.compile(r"^[0-9a-fA-F]{7,64}$")


class InstanceError(ValueError):
    """A row is not a usable SWE-bench instance; the message says which field and why."""


@dataclass(frozen=True)
class Instance:
    instance_id: str
    repo: str
    """``owner/name`` on GitHub; the platform maps it to a linked repository."""
    base_commit: str
    problem_statement: str
    test_patch: str
    fail_to_pass: tuple[str, ...]
    pass_to_pass: tuple[str, ...] = ()
    hints_text: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    """Every other column of the row (``version``, ``created_at``, the gold ``patch``...), kept as it came."""

    @property
    def tests(self) -> list[str]:
        """FAIL_TO_PASS then PASS_TO_PASS, each once."""
        return list(dict.fromkeys((*self.fail_to_pass, *self.pass_to_pass)))

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> Instance:
        if not isinstance(row, dict):
            raise InstanceError("an instance must be a JSON object")
        missing = [name for name in REQUIRED if row.get(name) in (None, "")]
        if missing:
            raise InstanceError(f"missing {', '.join(missing)}")
        instance_id = _text(row, "instance_id").strip()
        if len(instance_id) > 200:
            raise InstanceError("instance_id is longer than 200 characters")
        repo = _text(row, "repo").strip()
        if not _REPO.match(repo):
            raise InstanceError(f"repo must be owner/name, not {repo[:80]!r}")
        commit = _text(row, "base_commit").strip()
        if not _COMMIT.match(commit):
            raise InstanceError(f"base_commit must be a commit id (hex), not {commit[:80]!r}")
        test_patch = _text(row, "test_patch")
        if not patch_paths(test_patch):
            raise InstanceError("test_patch is not a unified diff")
        return cls(
            instance_id=instance_id,
            repo=repo,
            base_commit=commit.lower(),
            problem_statement=_text(row, "problem_statement"),
            test_patch=test_patch,
            fail_to_pass=_test_list(row, "FAIL_TO_PASS", required=True),
            pass_to_pass=_test_list(row, "PASS_TO_PASS", required=False),
            hints_text=_text(row, "hints_text") if row.get("hints_text") is not None else "",
            extra={k: v for k, v in row.items() if k not in FIELDS},
        )

    def to_dict(self) -> dict[str, Any]:
        """The row in SWE-bench's shape (lists as JSON lists)."""
        return {
            **self.extra,
            "instance_id": self.instance_id,
            "repo": self.repo,
            "base_commit": self.base_commit,
            "problem_statement": self.problem_statement,
            "hints_text": self.hints_text,
            "test_patch": self.test_patch,
            "FAIL_TO_PASS": list(self.fail_to_pass),
            "PASS_TO_PASS": list(self.pass_to_pass),
        }


def _text(row: dict[str, Any], name: str) -> str:
    value = row.get(name)
    if not isinstance(value, str):
        raise InstanceError(f"{name} must be a string")
    return value


def _test_list(row: dict[str, Any], name: str, *, required: bool) -> tuple[str, ...]:
    value = row.get(name)
    if value in (None, "") and not required:
        return ()
    if isinstance(value, str):  # the Hugging Face datasets ship the lists JSON-encoded
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise InstanceError(f"{name} is a string but not a JSON list") from None
    if not isinstance(value, list) or not all(isinstance(t, str) and t.strip() for t in value):
        raise InstanceError(f"{name} must be a list of test ids")
    if required and not value:
        raise InstanceError(f"{name} is empty: nothing would show the fix")
    if any(t.startswith("-") for t in value):
        raise InstanceError(f"{name} has an id starting with '-': test ids are pytest node ids")
    return tuple(t.strip() for t in value)


@dataclass(frozen=True)
class Problem:
    """A row that could not be read: where it was and why."""

    where: str
    """``line 3`` (JSONL) or ``item 3`` (a JSON array)."""
    message: str
    instance_id: str = ""


def parse_instances(text: str) -> tuple[list[Instance], list[Problem]]:
    """Instances from a JSON array, a single JSON object, or JSON Lines; and the rows that failed."""
    rows: list[tuple[str, Any]] = []
    stripped = text.lstrip()
    whole: Any = None
    if stripped.startswith("["):
        try:
            whole = json.loads(stripped)
        except json.JSONDecodeError as exc:
            return [], [Problem("the file", f"not valid JSON: {exc}")]
        rows = [(f"item {n}", row) for n, row in enumerate(whole, 1)]
    else:
        try:
            whole = json.loads(stripped) if stripped.startswith("{") else None
        except json.JSONDecodeError:
            whole = None  # several objects: JSON Lines
        if isinstance(whole, dict):
            rows = [("item 1", whole)]
        else:
            for number, line in enumerate(text.splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    rows.append((f"line {number}", json.loads(line)))
                except json.JSONDecodeError as exc:
                    rows.append((f"line {number}", InstanceError(f"not valid JSON: {exc.msg}")))
    instances: list[Instance] = []
    problems: list[Problem] = []
    seen: set[str] = set()
    for where, row in rows:
        instance_id = str(row.get("instance_id", "")) if isinstance(row, dict) else ""
        try:
            if isinstance(row, InstanceError):
                raise row
            instance = Instance.from_dict(row)
        except InstanceError as exc:
            problems.append(Problem(where, str(exc), instance_id))
            continue
        if instance.instance_id in seen:
            problems.append(Problem(where, "the same instance_id appears twice", instance.instance_id))
            continue
        seen.add(instance.instance_id)
        instances.append(instance)
    return instances, problems
