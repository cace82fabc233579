"""The recorded run, exported as JSONL in the OpenAI chat format with tool calls.

One record (one line) per run::

    {"messages": [...], "tools": [...], "reward": {...}, "metadata": {...}}

``messages`` and ``tools`` are exactly what the model was sent on its last
call (system, user, assistant with ``tool_calls``, ``tool``), so a file of
records loads directly into fine-tuning and RL tooling that reads the OpenAI
chat format (OpenAI fine-tuning, TRL, axolotl, OpenRLHF, ...), each extra key
being ignored there. Per-step timing, token counts and costs, the texts that
condensation removed, and the run's outcome live under ``metadata``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agents.redact import Redactor

if TYPE_CHECKING:
    from agents.feedback import Reward

FORMAT = "slipway-trajectory/1"


@dataclass
class Trajectory:
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] = field(default_factory=list)
    """Tool definitions in OpenAI format (empty in text mode)."""
    reward: Reward | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    """Task, model (without its key), limits, outcome, reason, summary, usage, timings, test results."""
    steps: list[dict[str, Any]] = field(default_factory=list)
    """Per step: index, seconds (model, tools, total), tokens, cost, attempts, tool calls, errors."""
    condensations: list[dict[str, Any]] = field(default_factory=list)
    """Each condensation: its step, the messages condensed and their original text."""

    def to_record(self, redactor: Redactor | None = None) -> dict[str, Any]:
        record = {
            "messages": self.messages,
            "tools": self.tools,
            "reward": self.reward.to_dict() if self.reward is not None else None,
            "metadata": {
                "format": FORMAT,
                **self.metadata,
                "steps": self.steps,
                "condensations": self.condensations,
            },
        }
        return redactor.deep(record) if redactor else record

    def to_jsonl(self, redactor: Redactor | None = None) -> str:
        return json.dumps(self.to_record(redactor), ensure_ascii=False) + "\n"

    def write(self, path: str | Path, *, append: bool = True, redactor: Redactor | None = None) -> None:
        """Append (or write) this run as one JSONL line."""
        with open(path, "a" if append else "w", encoding="utf-8") as handle:
            handle.write(self.to_jsonl(redactor))


def read_trajectories(path: str | Path) -> list[dict[str, Any]]:
    """Every record of a JSONL trajectory file."""
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
