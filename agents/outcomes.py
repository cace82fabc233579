"""How a run ends: every outcome is an exception, as in mini-swe-agent.

The loop raises one of these to stop; ``run_agent`` catches it and turns it
into ``RunResult.outcome`` (the class's ``outcome`` string) and
``RunResult.reason`` (the exception's message, written for a person).
"""

from __future__ import annotations


class AgentOutcome(Exception):
    """Base of every way a run can end."""

    outcome: str = "error"

    @property
    def reason(self) -> str:
        return str(self) or self.outcome.replace("_", " ")


class Submitted(AgentOutcome):
    """The model called ``submit``: the work is done as far as it can tell."""

    outcome = "submitted"

    def __init__(self, summary: str) -> None:
        super().__init__("the agent submitted its change")
        self.summary = summary


class LimitsExceeded(AgentOutcome):
    """A budget of steps, tokens or cost ran out."""

    outcome = "limits_exceeded"


class TimeExceeded(AgentOutcome):
    """The run's wall-clock budget ran out."""

    outcome = "time_exceeded"


class Cancelled(AgentOutcome):
    """The caller's cancel check said stop."""

    outcome = "cancelled"


class AwaitingPlanApproval(AgentOutcome):
    """The plan is written and a person must approve it before any change."""

    outcome = "awaiting_plan_approval"

    def __init__(self, plan: str) -> None:
        super().__init__("the plan is waiting for approval")
        self.plan = plan


class FormatError(AgentOutcome):
    """Too many malformed replies in a row (garbage, unknown tools, bad arguments, empty)."""

    outcome = "format_error"


class ModelError(AgentOutcome):
    """The model server failed for good: retries are spent, or it refused the request."""

    outcome = "model_error"


class ContextOverflow(ModelError):
    """The server says the prompt is longer than the model's context window."""

    outcome = "context_exceeded"


class ToolsUnsupported(ModelError):
    """The server rejected the request because it carried tool definitions."""


class SandboxFailure(AgentOutcome):
    """The sandbox itself broke (not a command failing inside it)."""

    outcome = "sandbox_error"


class UnexpectedError(AgentOutcome):
    """A bug: anything else that escaped. The traceback goes to the trajectory, not the user."""

    outcome = "error"
