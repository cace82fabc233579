"""A scripted model that reads the conversation it is shown, so one script serves
parallel attempts and a run resumed after a crash alike (it keeps no state of its own)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tests.support.script import Dynamic, RecordedRequest, Reply, Step, hang, submit, text, tool

GOOD_EDIT = {
    "path": "textstats.py",
    "old_text": 'return len(text.split(" "))',
    "new_text": "return len(text.split())",
}
# Changes the code without fixing the bug: the failing test keeps failing.
BAD_EDIT = {
    "path": "textstats.py",
    "old_text": '"""Small text statistics."""',
    "new_text": '"""Small text statistics (v2)."""',
}


def _turns(request: RecordedRequest) -> int:
    """Replies the model has given so far in this conversation (the plan counts)."""
    return sum(1 for m in request.messages if m.get("role") == "assistant")


def _seed(request: RecordedRequest) -> int | None:
    body = request.body if isinstance(request.body, dict) else {}
    seed = body.get("seed")
    return int(seed) if seed is not None else None


def demo_fixer(
    *,
    good: Callable[[int | None], bool] = lambda seed: True,
    slow_turn: int | None = None,
    slow_seconds: float = 0.0,
) -> Step:
    """Fixes the demo repository's word_count in five replies: plan, view, edit, test, submit.

    ``good(seed)`` picks the real fix or a harmless edit that fixes nothing.
    ``slow_turn`` makes that reply wait ``slow_seconds`` first (time to kill a worker or cancel).
    """

    def decide(request: RecordedRequest) -> Step:
        turn = _turns(request)
        reply: Reply
        if turn == 0:
            reply = text(
                "1. Read textstats.py.\n2. Split on any whitespace in word_count.\n3. Run the tests.\n4. Submit."
            )
        elif turn == 1:
            reply = tool("view_file", path="textstats.py")
        elif turn == 2:
            reply = tool("edit_file", GOOD_EDIT if good(_seed(request)) else BAD_EDIT)
        elif turn == 3:
            reply = tool("run_tests")
        else:
            reply = submit("word_count now splits on any whitespace.")
        if slow_turn is not None and turn == slow_turn:
            return hang(slow_seconds, reply)
        return reply

    return Dynamic(decide)


def many(step: Step, n: int = 200) -> list[Step]:
    return [step] * n


def tool_results(request: RecordedRequest) -> list[str]:
    return [str(m.get("content")) for m in request.messages if m.get("role") == "tool"]


def dumps(value: Any) -> str:
    return json.dumps(value)
