"""Events: everything the agent does is reported through an event sink.

An event is a kind plus a JSON-serialisable payload. The platform persists
them as ``RunEvent`` rows and broadcasts them; the CLI prints them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

EventKind = Literal[
    "status",  # {"status": str, "detail": str}
    "plan",  # {"plan": str, "steps": [str, ...], "awaiting_approval": bool}
    "message",  # {"delta": str} while streaming, or {"content": str, "final": true}
    "tool_call",  # {"id": str, "name": str, "arguments": dict}
    "tool_result",  # {"id": str, "name": str, "output": str, "exit_code": int | None, "error": bool}
    "command_output",  # {"id": str, "chunk": str}
    "test_result",  # {"phase": "baseline" | "final" | "step", "passed": int, "failed": int, ...}
    "usage",  # {"prompt_tokens": int, "completion_tokens": int, "cost": float, "seconds": float, "attempts": int, "total_*": ...}
    "diff",  # {"diff": str, "files": int, "additions": int, "deletions": int}
    "error",  # {"message": str, "reason": str}
    "condensed",  # {"removed": int, "summary": str}
]

EVENT_KINDS: tuple[str, ...] = EventKind.__args__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Event:
    kind: EventKind
    payload: dict[str, Any] = field(default_factory=dict)


EventSink = Callable[[Event], None]


def null_sink(event: Event) -> None:
    """A sink that drops everything (for callers that do not listen)."""
