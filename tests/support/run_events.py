"""A run's events as the agent and the pipeline emit them, for tests of the live view.

``DEMO`` is the demo fixer's run (see ``tests.support.solver.demo_fixer``) event by event,
with the payloads ``agents.report`` and ``agents.run_record.test_payload`` produce; ``record``
feeds them through the worker's real sink (``runs.recorder.EventRecorder``: a row, then a
group message), so tests see exactly what a browser would.
"""

from __future__ import annotations

from typing import Any

from agents.events import Event
from runs.models import AgentRun, RunStatus

PLAN = "1. Read textstats.py.\n2. Split on any whitespace in word_count.\n3. Run the tests.\n4. Submit."
VIEW = '     1\t"""Small text statistics."""\n     2\t\n     3\tdef word_count(text):\n     4\t    return len(text.split(" "))'


def tests(phase: str, *, ok: bool) -> dict[str, Any]:
    failed = 0 if ok else 1
    return {
        "phase": phase,
        "ok": ok,
        "summary": f"{4 - failed} passed" + (f", {failed} failed" if failed else ""),
        "passed": 4 - failed,
        "failed": failed,
        "errors": 0,
        "skipped": 0,
        "exit_code": 0 if ok else 1,
        "source": "junit",
        "duration": 0.21,
        "timed_out": False,
        "failures": {} if ok else {"tests/test_textstats.py::test_repeated_spaces": "assert 3 == 2"},
        "output": "",
    }


def usage(step: int) -> dict[str, Any]:
    return {
        "step": step,
        "prompt_tokens": 900,
        "completion_tokens": 40,
        "cost": 0.001,
        "estimated": False,
        "seconds": 12.5,
        "attempts": 1,
        "total_prompt_tokens": 900 * (step + 1),
        "total_completion_tokens": 40 * (step + 1),
        "total_tokens": 940 * (step + 1),
        "total_cost": 0.001 * (step + 1),
        "total_model_seconds": 12.5 * (step + 1),
    }


DEMO: list[tuple[str, dict[str, Any]]] = [
    ("status", {"status": "preparing", "detail": "fetching main"}),
    ("status", {"status": "baseline", "detail": "running the tests before any change"}),
    ("command_output", {"id": "baseline", "chunk": "...F\n"}),
    ("test_result", tests("baseline", ok=False)),
    ("status", {"status": "planning", "detail": "writing a plan"}),
    ("message", {"delta": "1. Read textstats.py.\n"}),
    ("usage", usage(0)),
    ("message", {"content": PLAN, "final": True}),
    ("plan", {"plan": PLAN, "steps": ["Read textstats.py.", "Split on any whitespace in word_count.", "Run the tests.", "Submit."], "awaiting_approval": False}),
    ("status", {"status": "running", "detail": "working on the task"}),
    ("usage", usage(1)),
    ("tool_call", {"id": "call_1", "name": "view_file", "arguments": {"path": "textstats.py"}}),
    ("tool_result", {"id": "call_1", "name": "view_file", "output": VIEW, "exit_code": None, "error": False}),
    ("usage", usage(2)),
    ("tool_call", {"id": "call_2", "name": "edit_file", "arguments": {"path": "textstats.py", "old_text": 'return len(text.split(" "))', "new_text": "return len(text.split())"}}),
    ("tool_result", {"id": "call_2", "name": "edit_file", "output": "Edited textstats.py.", "exit_code": None, "error": False}),
    ("usage", usage(3)),
    ("tool_call", {"id": "call_3", "name": "bash", "arguments": {"command": "python -m pytest -q"}}),
    ("command_output", {"id": "call_3", "chunk": "....\n"}),
    ("command_output", {"id": "call_3", "chunk": "4 passed in 0.02s\n"}),
    ("test_result", tests("step", ok=True)),
    ("tool_result", {"id": "call_3", "name": "bash", "output": "....\n4 passed in 0.02s\n[exit code 0]", "exit_code": 0, "error": False}),
    ("usage", usage(4)),
    ("tool_call", {"id": "call_4", "name": "submit", "arguments": {"summary": "word_count now splits on any whitespace."}}),
    ("tool_result", {"id": "call_4", "name": "submit", "output": "Submitted.", "exit_code": None, "error": False}),
    ("status", {"status": "final_tests", "detail": "running the tests after the change"}),
    ("command_output", {"id": "final", "chunk": "....\n"}),
    ("test_result", tests("final", ok=True)),
    ("status", {"status": "finished", "detail": "submitted", "outcome": "submitted", "reason": "submitted"}),
    ("diff", {"files": 1, "additions": 1, "deletions": 1}),
]


def record(run: AgentRun, events: list[tuple[str, dict[str, Any]]] = DEMO) -> None:
    """Through the worker's sink: each event a row first, then a message to the run's group."""
    from runs.recorder import EventRecorder

    recorder = EventRecorder(run)
    for kind, payload in events:
        recorder(Event(kind, dict(payload)))  # type: ignore[arg-type]
    recorder.close()


def make_run(intent: Any, *, status: str = RunStatus.RUNNING, **fields: Any) -> AgentRun:
    """A run of the intent, as the pipeline leaves it once it has claimed it."""
    from django.utils import timezone

    defaults: dict[str, Any] = {"started_at": timezone.now()} if status != RunStatus.QUEUED else {}
    return AgentRun.objects.create(
        intent=intent,
        team_id=intent.team_id,
        project_id=intent.project_id,
        status=status,
        model_name="scripted",
        **{**defaults, **fields},
    )
