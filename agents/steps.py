"""What one step leaves in the trajectory: its timings, tokens, cost, tool calls and errors."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class StepRecord:
    index: int
    started_at: float = field(default_factory=time.time)
    """Unix time the step began."""
    seconds: float = 0.0
    model_seconds: float = 0.0
    """In the model client, less the loop's own callbacks (see ``Clock``)."""
    tool_seconds: float = 0.0
    """In the tools (the sandbox), less the loop's own callbacks."""
    attempts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    """Each call: id, name, seconds, error."""
    errors: list[str] = field(default_factory=list)
    """Malformed replies and calls met in this step."""
    _begun: float = field(default_factory=time.monotonic, repr=False)

    def finish(self) -> dict[str, Any]:
        self.seconds = round(time.monotonic() - self._begun, 6)
        data = asdict(self)
        del data["_begun"]
        return data


class Clock:
    """Time spent in a model or tool call, less the time our own callbacks (events) took inside it.

    So a step's time splits cleanly into model, tools, and the loop's own overhead.
    """

    def __init__(self) -> None:
        self.work = 0.0
        self._callbacks = 0.0

    def wrap(self, callback: Callable[[str], None]) -> Callable[[str], None]:
        def timed(value: str) -> None:
            started = time.perf_counter()
            try:
                callback(value)
            finally:
                self._callbacks += time.perf_counter() - started

        return timed

    @contextmanager
    def working(self) -> Iterator[None]:
        started, before = time.perf_counter(), self._callbacks
        try:
            yield
        finally:
            self.work += time.perf_counter() - started - (self._callbacks - before)
