"""What a finished run leaves behind: the trajectory, and the test events' payloads."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from agents.config import AgentConfig
from agents.feedback import TestResult
from agents.llm.base import Model, ToolSpec
from agents.redact import Redactor
from agents.report import clip
from agents.task import RunResult, Task
from agents.trajectory import Trajectory

FAILURES_IN_EVENT = 20


def test_payload(result: TestResult, phase: str) -> dict[str, Any]:
    """A ``test_result`` event: counts and the first failures, not every test id (events stay small)."""
    failing = {t: m for t, m in list(result.failures.items())[:FAILURES_IN_EVENT]}
    return {
        "phase": phase,
        "ok": result.ok,
        "summary": result.summary(),
        "passed": result.passed,
        "failed": result.failed,
        "errors": result.errors,
        "skipped": result.skipped,
        "exit_code": result.exit_code,
        "source": result.source,
        "duration": round(result.duration, 3),
        "timed_out": result.timed_out,
        "failures": failing,
        "output": clip(result.output, 2000),
    }


def build_trajectory(
    result: RunResult,
    *,
    task: Task,
    model: Model,
    config: AgentConfig,
    tools: Sequence[ToolSpec],
    crash: str | None = None,
) -> Trajectory:
    redactor = Redactor([model.config.api_key, *config.secrets])
    limits = asdict(config)
    limits.pop("secrets")
    text_mode = result.state.tool_mode == "text"
    metadata: dict[str, Any] = {
        "outcome": result.outcome,
        "reason": result.reason,
        "summary": result.summary,
        "plan": result.plan,
        "task": {
            "title": task.title,
            "description": task.description,
            "acceptance_criteria": task.acceptance_criteria,
            "test_command": task.test_command,
            "review_feedback": [asdict(c) for c in task.comments()],
        },
        "model": model.config.public_dict(),
        "tool_mode": result.state.tool_mode,
        "agent_config": limits,
        "usage": result.usage.to_dict(),
        "steps_taken": result.steps,
        "elapsed": round(result.elapsed, 3),
        "finished_at": time.time(),
        "base_commit": result.state.base_commit,
        "baseline": result.baseline.to_dict() if result.baseline else None,
        "final": result.final.to_dict() if result.final else None,
        "notes": result.state.notes,
    }
    if crash:
        metadata["traceback"] = crash
    trajectory = Trajectory(
        messages=result.state.messages,
        tools=[] if text_mode else [t.openai() for t in tools],
        reward=result.reward,
        metadata=redactor.deep(metadata),
        steps=result.state.step_records,
        condensations=result.state.condensations,
    )
    return trajectory
