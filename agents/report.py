"""The loop's voice: typed events, redacted and kept small, into the caller's sink."""

from __future__ import annotations

import time
from typing import Any

from agents.events import Event, EventKind, EventSink
from agents.redact import Redactor

OUTPUT_CHUNK = 4096
"""Characters per ``command_output`` event: big outputs arrive as several events."""
TEXT_LIMIT = 16_384
"""Longest string in any other payload; the middle of a longer one is cut."""
DELTA_CHARS = 64
DELTA_SECONDS = 0.1
"""Streamed tokens are sent on once this many characters or seconds have gathered: every event
becomes a database row, and a fast model writes a hundred tokens a second."""


def clip(text: str, limit: int) -> str:
    """Keep the head and the tail, where errors and summaries live."""
    if len(text) <= limit:
        return text
    head = limit * 2 // 5
    tail = limit - head
    return f"{text[:head]}\n[... {len(text) - limit} characters cut ...]\n{text[-tail:]}"


def _small(value: Any) -> Any:
    if isinstance(value, str):
        return clip(value, TEXT_LIMIT)
    if isinstance(value, dict):
        return {k: _small(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_small(v) for v in value]
    return value


class Reporter:
    def __init__(self, sink: EventSink, redactor: Redactor) -> None:
        self._sink = sink
        self._redactor = redactor

    def emit(self, kind: EventKind, **payload: Any) -> None:
        self._sink(Event(kind, _small(self._redactor.deep(payload))))

    def status(self, status: str, detail: str = "", **extra: Any) -> None:
        self.emit("status", status=status, detail=detail, **extra)

    def malformed(self, problem: str) -> None:
        """A malformed reply or call: recoverable, but counted toward ``FormatError``."""
        self.emit("error", message=problem, reason="malformed_reply", recoverable=True)

    def output(self, call_id: str, text: str) -> None:
        text = self._redactor.text(text)
        for start in range(0, len(text), OUTPUT_CHUNK):
            self._sink(Event("command_output", {"id": call_id, "chunk": text[start : start + OUTPUT_CHUNK]}))


class DeltaBuffer:
    """Gathers streamed text into ``message`` delta events of a sensible size."""

    def __init__(self, report: Reporter) -> None:
        self._report = report
        self._parts: list[str] = []
        self._size = 0
        self._since = time.monotonic()

    def add(self, delta: str) -> None:
        self._parts.append(delta)
        self._size += len(delta)
        if self._size >= DELTA_CHARS or time.monotonic() - self._since >= DELTA_SECONDS:
            self.flush()

    def flush(self) -> None:
        if self._parts:
            self._report.emit("message", delta="".join(self._parts))
        self._parts, self._size, self._since = [], 0, time.monotonic()
