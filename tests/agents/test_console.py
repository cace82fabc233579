"""The CLI's event sink: what a person reads in the terminal."""

from __future__ import annotations

import io

from agents.console import ConsolePrinter
from agents.events import Event


def printed(*events: Event) -> str:
    out = io.StringIO()
    printer = ConsolePrinter(out, color=False)
    for event in events:
        printer(event)
    return out.getvalue()


def test_a_streamed_message_prints_inline_and_a_plan_already_shown_is_not_repeated():
    text = printed(
        Event("message", {"delta": "1. Read. "}),
        Event("message", {"delta": "2. Fix."}),
        Event("message", {"content": "1. Read. 2. Fix.", "final": True}),
        Event("plan", {"plan": "1. Read. 2. Fix.", "steps": ["Read.", "Fix."], "awaiting_approval": False}),
    )

    assert text == "\n1. Read. 2. Fix.\n▸ plan (2 steps)\n"


def test_commands_their_output_and_results_read_like_a_terminal_session():
    text = printed(
        Event("tool_call", {"id": "1", "name": "bash", "arguments": {"command": "ls"}}),
        Event("command_output", {"id": "1", "chunk": "calc.py\n"}),
        Event(
            "tool_result",
            {"id": "1", "name": "bash", "output": "calc.py\n[exit code 0]", "exit_code": 0, "error": False},
        ),
        Event("tool_call", {"id": "2", "name": "view_file", "arguments": {"path": "calc.py"}}),
        Event(
            "tool_result",
            {"id": "2", "name": "view_file", "output": "     1\tx = 1", "exit_code": None, "error": False},
        ),
        Event("test_result", {"phase": "final", "summary": "2 passed, 0 failed", "ok": True}),
        Event("error", {"message": "no tool named 'x'", "reason": "malformed_reply", "recoverable": True}),
    )

    assert text.splitlines() == [
        "$ ls",
        "calc.py",
        "[exit code 0]",
        '→ view_file {"path": "calc.py"}',
        "     1\tx = 1",
        "tests (final): 2 passed, 0 failed",
        "error: no tool named 'x'",
    ]
