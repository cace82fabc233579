"""'Test connection': one tiny real request to a configured model, and its answer or exact error."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from agents.llm import MalformedReply, make_model
from agents.outcomes import AgentOutcome
from agents.redact import Redactor
from runs.models import ModelConfig


@dataclass(frozen=True)
class ConnectionReport:
    ok: bool
    message: str
    seconds: float
    tokens: int = 0


def test_connection(config: ModelConfig, *, timeout: float = 20.0) -> ConnectionReport:
    from runs.pipeline import model_config_for_model

    agent_config = replace(
        model_config_for_model(config), max_retries=0, request_timeout=timeout, stream=False, max_output_tokens=16
    )
    redactor = Redactor([agent_config.api_key])
    started = time.monotonic()
    try:
        reply = make_model(agent_config).query([{"role": "user", "content": "Reply with one word: ready"}])
    except (AgentOutcome, MalformedReply, ValueError, OSError) as exc:
        return ConnectionReport(False, redactor.text(str(exc)) or type(exc).__name__, time.monotonic() - started)
    answer = (reply.content or "").strip() or "(an empty reply)"
    return ConnectionReport(
        True, redactor.text(answer[:200]), time.monotonic() - started, reply.usage.prompt_tokens + reply.usage.completion_tokens
    )
