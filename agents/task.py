"""Plain data in and out of a run: the task, the state to resume from, the result.

Everything here converts to and from JSON-ready dicts, so the platform can
store it in a database row and hand it back after a crash.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from agents.feedback import Reward, TestResult
from agents.trajectory import Trajectory


@dataclass(frozen=True)
class ReviewComment:
    """A reviewer's comment on the previous attempt, for a second round."""

    text: str
    file: str | None = None
    line: int | None = None

    @classmethod
    def coerce(cls, value: ReviewComment | dict[str, Any]) -> ReviewComment:
        if isinstance(value, ReviewComment):
            return value
        return cls(text=str(value.get("text", "")), file=value.get("file"), line=value.get("line"))


@dataclass(frozen=True)
class RepoGuidance:
    """What the repository says about itself, read inside the sandbox (see ``agents.guidance``)."""

    files: dict[str, str] = field(default_factory=dict)
    """Guidance file name (AGENTS.md, CONTRIBUTING.md, README.md, ...) to its text, clipped."""
    tree: str = ""
    """A depth-limited listing of the workspace, one path a line, folders ending in ``/``."""
    commit: str | None = None
    """The commit the workspace started from, when it is a git checkout."""


@dataclass(frozen=True)
class Task:
    title: str
    """The intent, in a line."""
    description: str = ""
    """The intent's body (Markdown)."""
    acceptance_criteria: str = ""
    """How the person filing it will know it is done."""
    test_command: str = ""
    """Run in ``/workspace`` inside the sandbox; empty when the project has none."""
    review_feedback: tuple[ReviewComment | dict[str, Any], ...] = ()
    """Comments on the previous attempt, each ``{file, line, text}``."""
    approved_plan: str | None = None
    """A plan a person approved (possibly edited); the run follows it instead of writing its own."""
    guidance: RepoGuidance | None = None
    """Gathered from the sandbox at the start when None."""
    baseline: TestResult | None = None
    """The test run before any change; run at the start when None and ``AgentConfig.run_baseline``."""

    def comments(self) -> list[ReviewComment]:
        return [ReviewComment.coerce(c) for c in self.review_feedback]


@dataclass
class UsageTotals:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    model_calls: int = 0
    model_seconds: float = 0.0
    """Time spent waiting for the model, every call and retry included."""

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"total_tokens": self.total_tokens}


@dataclass
class ResumeState:
    """Everything needed to carry on a run from its last completed step."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    steps: int = 0
    usage: UsageTotals = field(default_factory=UsageTotals)
    elapsed: float = 0.0
    """Seconds spent so far, across every resumption."""
    plan: str | None = None
    awaiting_approval: bool = False
    baseline: TestResult | None = None
    base_commit: str | None = None
    tool_mode: str = "native"
    submit_rejections: int = 0
    step_records: list[dict[str, Any]] = field(default_factory=list)
    condensations: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Things worth knowing about the run (the server rejected tools, a retry storm...)."""

    def snapshot(self) -> ResumeState:
        return replace(
            self,
            messages=list(self.messages),
            usage=replace(self.usage),
            step_records=list(self.step_records),
            condensations=list(self.condensations),
            notes=list(self.notes),
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["baseline"] = self.baseline.to_dict() if self.baseline else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ResumeState:
        data = dict(data)
        data["usage"] = UsageTotals(**{k: v for k, v in data.get("usage", {}).items() if k != "total_tokens"})
        data["baseline"] = TestResult.from_dict(data["baseline"]) if data.get("baseline") else None
        names = cls.__dataclass_fields__.keys()
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class RunResult:
    outcome: str
    """submitted, limits_exceeded, time_exceeded, cancelled, awaiting_plan_approval, format_error,
    model_error, context_exceeded, sandbox_error or error (see ``agents.outcomes``)."""
    reason: str
    """Why, in a sentence for a person."""
    summary: str
    """The model's summary when it submitted, else empty."""
    plan: str | None
    baseline: TestResult | None
    final: TestResult | None
    reward: Reward | None
    usage: UsageTotals
    steps: int
    elapsed: float
    trajectory: Trajectory
    state: ResumeState
    """Pass back as ``resume=`` to carry on (after plan approval, or after a crash from a stored copy)."""

    def to_dict(self) -> dict[str, Any]:
        """Everything but the trajectory and the resume state (each has its own export)."""
        return {
            "outcome": self.outcome,
            "reason": self.reason,
            "summary": self.summary,
            "plan": self.plan,
            "baseline": self.baseline.to_dict() if self.baseline else None,
            "final": self.final.to_dict() if self.final else None,
            "reward": self.reward.to_dict() if self.reward else None,
            "usage": self.usage.to_dict(),
            "steps": self.steps,
            "elapsed": self.elapsed,
        }
