"""Keeping the history inside the context window by condensing old observations.

Oldest first, the long outputs the model has already acted on are replaced
by a one-line stub; the task message and the newest observations stay. The
message structure (roles, tool call ids) is untouched, so the history stays
valid for every provider. Each condensation keeps the original texts, and
the trajectory records them, so nothing the model once saw is lost.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

FIRST_CONDENSABLE = 2
"""Messages before this index (system prompt, task) are never condensed."""
MIN_CHARS = 400
"""Shorter texts are not worth a stub."""


def estimate_tokens(messages: list[dict[str, Any]]) -> int:
    """About four characters a token, counted on the JSON the server receives."""
    return sum(len(json.dumps(m, ensure_ascii=False)) for m in messages) // 4


@dataclass
class Condensation:
    step: int
    tokens_before: int
    tokens_after: int
    originals: dict[int, dict[str, Any]] = field(default_factory=dict)
    """Index in the history to the message as it was before."""

    @property
    def removed(self) -> int:
        return len(self.originals)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["originals"] = {str(i): m for i, m in self.originals.items()}
        return data


def _stub(text: str) -> str:
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")[:160]
    return f"[condensed to fit the context window: {len(text)} characters removed; it began: {first}]"


def _condensed(message: dict[str, Any]) -> dict[str, Any] | None:
    """A copy of ``message`` with its long parts stubbed, or None when nothing is worth it."""
    role, content = message.get("role"), message.get("content")
    if role in ("tool", "user") and isinstance(content, str) and len(content) >= MIN_CHARS:
        return {**message, "content": _stub(content)}
    if role == "assistant" and message.get("tool_calls"):
        # A create_file with a whole file in its arguments weighs as much as any output.
        calls, changed = [], False
        for call in message["tool_calls"]:
            arguments = call["function"]["arguments"]
            if len(arguments) >= MIN_CHARS:
                try:
                    parsed = json.loads(arguments)
                except json.JSONDecodeError:
                    parsed = None
                if isinstance(parsed, dict):
                    parsed = {
                        k: _stub(v) if isinstance(v, str) and len(v) >= MIN_CHARS else v
                        for k, v in parsed.items()
                    }
                    call = {**call, "function": {**call["function"], "arguments": json.dumps(parsed)}}
                    changed = True
            calls.append(call)
        if changed:
            return {**message, "tool_calls": calls}
    return None


def condense(
    messages: list[dict[str, Any]], *, target: int, keep_recent: int, step: int
) -> Condensation | None:
    """Stub old messages in place until the estimate is under ``target``; None when nothing changed.

    The newest ``keep_recent`` candidates are spared unless sparing them cannot reach the target;
    the very last message (what the model must answer) is always kept.
    """
    before = estimate_tokens(messages)
    record = Condensation(step=step, tokens_before=before, tokens_after=before)
    last = len(messages) - 1
    candidates = [i for i in range(FIRST_CONDENSABLE, len(messages)) if _condensed(messages[i]) is not None]
    spared = candidates[-keep_recent:] if keep_recent > 0 else []
    order = [i for i in candidates if i not in spared] + [i for i in spared if i != last]
    total = before
    for index in order:
        if total <= target:
            break
        replacement = _condensed(messages[index])
        if replacement is None:
            continue
        record.originals[index] = messages[index]
        total -= (
            len(json.dumps(messages[index], ensure_ascii=False))
            - len(json.dumps(replacement, ensure_ascii=False))
        ) // 4
        messages[index] = replacement
    if not record.originals:
        return None
    record.tokens_after = estimate_tokens(messages)
    return record
