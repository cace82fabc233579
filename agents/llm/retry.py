"""Retries with backoff for model requests: 429, 5xx, timeouts, dropped connections.

The SDKs' own retries are switched off (``max_retries=0``) so that every wait
is visible as a status event and honours our limits, and so tests can run
with zero backoff.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from agents.config import ModelConfig
from agents.llm.base import StatusCallback
from agents.outcomes import ModelError

T = TypeVar("T")

RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})


@dataclass(frozen=True)
class Failure:
    """What a client makes of one failed attempt."""

    message: str
    retryable: bool
    retry_after: float | None = None


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds; an HTTP date is rare for APIs and treated as absent)."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(0.0, seconds)


def backoff_delay(config: ModelConfig, attempt: int, retry_after: float | None) -> float:
    if retry_after is not None:
        return retry_after
    # Full jitter keeps several workers hit by the same 429 from retrying in lockstep.
    ceiling = min(config.retry_max_wait, config.retry_backoff * (2**attempt))
    return random.uniform(ceiling / 2, ceiling) if ceiling > 0 else 0.0


def with_retries(
    attempt: Callable[[], T],
    *,
    config: ModelConfig,
    classify: Callable[[Exception], Failure | None],
    on_status: StatusCallback | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[T, int]:
    """Call ``attempt`` until it succeeds; return its value and the number of attempts.

    ``classify`` turns an exception into a ``Failure``, or None for one it
    does not know (that one propagates untouched).
    """
    for number in range(config.max_retries + 1):
        try:
            return attempt(), number + 1
        except Exception as exc:
            failure = classify(exc)
            if failure is None:
                raise
            if not failure.retryable:
                raise ModelError(failure.message) from exc
            if number == config.max_retries:
                raise ModelError(f"{failure.message} (gave up after {number + 1} attempts)") from exc
            if failure.retry_after is not None and failure.retry_after > config.retry_max_wait:
                raise ModelError(
                    f"{failure.message}; the server asked to wait {failure.retry_after:g} s, "
                    f"longer than retry_max_wait ({config.retry_max_wait:g} s)"
                ) from exc
            delay = backoff_delay(config, number, failure.retry_after)
            if on_status is not None:
                on_status(
                    f"{failure.message}; retrying in {delay:.1f} s (attempt {number + 2} of {config.max_retries + 1})"
                )
            sleep(delay)
    raise AssertionError("unreachable")


def error_detail(body: object, fallback: str = "") -> str:
    """The human part of an error body, in the shapes OpenAI, Anthropic and their imitators use."""
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else inner
        if not isinstance(message, str):
            message = body.get("message")
        if isinstance(message, str):
            return message[:500]
    if isinstance(body, str) and body.strip():
        return body.strip()[:500]
    return fallback[:500]


CONTEXT_OVERFLOW_HINTS = (
    "context length",
    "context_length",
    "context window",
    "maximum context",
    "prompt is too long",
    "too many tokens",
    "reduce the length",
    "exceeds the context",
)


def is_context_overflow(text: str) -> bool:
    text = text.lower()
    return any(hint in text for hint in CONTEXT_OVERFLOW_HINTS)
