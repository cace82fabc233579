"""Plain-data configuration: which model to talk to, and the limits of a run.

Both are frozen dataclasses with documented fields so the platform can build
them from its database rows and the CLI from its flags. A field set to 0 in
``AgentConfig`` means "no limit" where its docstring says so.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Provider = Literal["openai", "anthropic"]
ToolMode = Literal["native", "text"]


@dataclass(frozen=True)
class ModelConfig:
    model: str
    """The model's name as the server knows it (``gpt-4.1``, ``qwen2.5-coder:7b``, ...)."""
    provider: Provider = "openai"
    """``openai`` for any OpenAI-compatible server (OpenAI, vLLM, Ollama, llama.cpp, LM Studio), or ``anthropic``."""
    base_url: str | None = None
    """Server root. OpenAI-compatible servers usually end in ``/v1``; Anthropic's does not."""
    api_key: str = field(default="", repr=False)
    """A secret: never logged, never put in events, trajectories or the sandbox. Empty for keyless local servers."""
    input_cost_per_token: float = 0.0
    """Price of one prompt token, in the team's currency (``2.5e-6`` for $2.50 per million)."""
    output_cost_per_token: float = 0.0
    """Price of one completion token."""
    context_window: int = 128_000
    """Tokens the model can attend to; older observations are condensed before the history reaches it."""
    max_output_tokens: int | None = None
    """Cap on one reply's tokens. Anthropic requires one and gets 8192 when this is None."""
    request_timeout: float = 120.0
    """Seconds to wait for the server (connect, and between streamed chunks) before the attempt counts as timed out."""
    max_retries: int = 4
    """Extra attempts after a 429, a 5xx, a timeout or a dropped connection."""
    retry_backoff: float = 1.0
    """Seconds before the first retry, doubling each time; a Retry-After header takes precedence."""
    retry_max_wait: float = 60.0
    """Longest single wait. A server asking for longer (Retry-After) ends the run instead of stalling it."""
    temperature: float | None = 0.0
    """Sampling temperature; None leaves the server's default."""
    seed: int | None = None
    """Sampling seed, for servers that honour it (OpenAI-compatible only)."""
    stream: bool = True
    """Stream tokens as they are written (each surfaces as a ``message`` delta event)."""
    tool_mode: ToolMode = "native"
    """``native`` tool calling, or ``text``: one fenced shell block per reply, for models without tools.
    A native run switches to text by itself when the server rejects tool definitions."""

    def public_dict(self) -> dict[str, Any]:
        """Everything but the key, for trajectories and logs."""
        data = asdict(self)
        data.pop("api_key")
        return data


@dataclass(frozen=True)
class AgentConfig:
    max_steps: int = 60
    """Model calls per run (the plan counts as one); 0 = no limit."""
    max_tokens: int = 0
    """Prompt plus completion tokens over the whole run; 0 = no limit."""
    max_cost: float = 0.0
    """Spend over the whole run, priced from ``ModelConfig``; 0 = no limit."""
    wall_clock: float = 3600.0
    """Seconds the run may take, including test runs; 0 = no limit."""
    max_format_errors: int = 3
    """Malformed replies in a row (garbage, unknown tool, bad arguments, no action) before the run ends."""
    command_timeout: float = 120.0
    """Seconds one agent command may run; the model may ask for less, never more."""
    test_timeout: float = 600.0
    """Seconds one test run may take (baseline, final, or the ``run_tests`` tool)."""
    observation_chars: int = 12_000
    """Characters of one tool result the model sees; the middle of a longer one is cut."""
    view_lines: int = 400
    """Most lines one ``view_file`` call shows."""
    plan: bool = True
    """Ask for a short plan before any tool call (the plan becomes its own event)."""
    require_plan_approval: bool = False
    """Stop after the plan with outcome ``awaiting_plan_approval``; resume with ``Task.approved_plan``."""
    max_submit_rejections: int = 1
    """Times a ``submit`` is turned back because the tests still fail, with their results as feedback."""
    run_baseline: bool = True
    """Run the test command before any change (skipped when ``Task.baseline`` is given)."""
    run_final: bool = True
    """Run the test command after the run and compute the reward."""
    condense_at: float = 0.8
    """Fraction of the context window at which older observations are condensed."""
    condense_to: float = 0.5
    """Fraction of the context window condensation aims for."""
    keep_recent_observations: int = 3
    """Newest observations never condensed (unless nothing else is left)."""
    tree_depth: int = 2
    """Depth of the file tree shown in the first message."""
    tree_entries: int = 200
    """Most entries of that tree."""
    guidance_chars: int = 4000
    """Characters kept of each guidance file (AGENTS.md, CONTRIBUTING, README)."""
    secrets: tuple[str, ...] = field(default=(), repr=False)
    """Values redacted from every observation, event and trajectory, besides the model's API key."""
