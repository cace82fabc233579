"""What every model client speaks: messages in, one reply out.

The history is a list of OpenAI chat messages (``system``, ``user``,
``assistant`` with ``tool_calls``, ``tool``), whatever the provider: it is
also the trajectory's format, so a client translates at its own edge.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from agents.config import ModelConfig, ToolMode

Message = dict[str, Any]
DeltaCallback = Callable[[str], None]
StatusCallback = Callable[[str], None]


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]
    """JSON schema of the arguments object."""

    def openai(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: str
    """The arguments exactly as the model wrote them (JSON text, maybe broken)."""
    id: str | None = None
    """None for a call read out of plain text: its result then goes back as a user message."""


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cost: float = 0.0
    estimated: bool = False
    """True when the server sent no usage and the counts are guessed from lengths."""

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class ModelReply:
    message: Message
    """The assistant message to append to the history, in OpenAI chat format."""
    content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None
    duration: float = 0.0
    attempts: int = 1


class MalformedReply(Exception):
    """The server answered, but not with a usable completion (garbage body, broken stream)."""


class Model(Protocol):
    config: ModelConfig

    @property
    def tool_mode(self) -> ToolMode:
        """``native`` while the server takes tool definitions, else ``text``."""
        ...

    def use_text_mode(self) -> None:
        """Stop sending tool definitions (the server rejected them)."""
        ...

    def query(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSpec] = (),
        on_delta: DeltaCallback | None = None,
        on_status: StatusCallback | None = None,
    ) -> ModelReply:
        """One completion. Raises ``MalformedReply`` or an ``agents.outcomes.ModelError``."""
        ...


class ToolModeSwitch:
    """Native tool calls until the server refuses them, then the text protocol for the rest of the run."""

    def __init__(self, config: ModelConfig) -> None:
        self.config = config
        self._tool_mode: ToolMode = config.tool_mode

    @property
    def tool_mode(self) -> ToolMode:
        return self._tool_mode

    def use_text_mode(self) -> None:
        self._tool_mode = "text"


def price(usage: Usage, config: ModelConfig, provider_cost: float | None = None) -> Usage:
    """Fill in the cost: the configured prices, else what the provider reported (OpenRouter does)."""
    computed = (
        usage.prompt_tokens * config.input_cost_per_token
        + usage.completion_tokens * config.output_cost_per_token
    )
    usage.cost = computed if computed or provider_cost is None else float(provider_cost)
    return usage


def estimate_tokens(text: str) -> int:
    """A deliberately generous guess (about four characters a token) for servers that send no usage."""
    return max(1, len(text) // 4) if text else 0


def assistant_reply(content: str, calls: list[ToolCall], usage: Usage, finish: str | None) -> ModelReply:
    """The reply, with its history message in OpenAI chat format (``content`` null beside tool calls)."""
    message: Message = {"role": "assistant", "content": content or (None if calls else "")}
    if calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in calls
        ]
    return ModelReply(message=message, content=content, tool_calls=calls, usage=usage, finish_reason=finish)
