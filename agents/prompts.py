"""Every text the model reads that the loop writes."""

from __future__ import annotations

import re

from agents.feedback import TestResult
from agents.task import RepoGuidance, Task

SYSTEM = """\
You are a careful software engineer. You work in a sandboxed checkout of a git repository at \
/workspace and change it so the task is done, guided by its tests.

How to work:
- Look before you change: read the relevant code and search for where things are defined.
- Make small, focused changes in the project's own style.
- Run the tests and keep going while they fail. Never weaken or delete a test to make it pass \
unless the task asks for it.
- The sandbox has no network. Each command runs in a fresh shell in /workspace: files persist, \
`cd` and variables do not.
- When the task is done and the tests pass, submit with a short summary of what you changed and why.
"""

NATIVE_TOOLS = """
Act through the tools. A sentence or two of reasoning beside a tool call is welcome; a reply \
without a tool call is an error.
"""

TEXT_PROTOCOL = """
You act by replying with exactly one fenced shell block per reply, which runs with bash in \
/workspace; you then get its output. Edit files with shell tools (sed, a heredoc, python3). \
A few sentences of reasoning before the block are welcome.

```bash
grep -rn "def parse_range" .
```

When you are done, reply with a block whose first line is `submit`, followed by your summary:

```bash
submit
Fixed the off-by-one in parse_range() and added a test for empty ranges.
```
"""

PLAN_REQUEST = """
Before changing anything, write a short plan: a numbered list of at most six steps. \
Do not call tools or run commands in this reply."""

PROCEED = "Good. Now carry out the plan, step by step, using the tools."
PROCEED_TEXT = "Good. Now carry out the plan, one shell block per reply."


def system_prompt(tool_mode: str) -> str:
    return SYSTEM + (TEXT_PROTOCOL if tool_mode == "text" else NATIVE_TOOLS)


def plan_approved(plan: str, *, edited: bool, tool_mode: str) -> str:
    head = "A reviewer edited your plan. Follow this version:" if edited else "Your plan is approved:"
    tail = PROCEED_TEXT if tool_mode == "text" else PROCEED
    return f"{head}\n\n{plan.strip()}\n\n{tail}"


def plan_steps(plan: str) -> list[str]:
    """The plan's numbered or bulleted lines, without their markers."""
    steps = []
    for line in plan.splitlines():
        match = re.match(r"\s*(?:\d+[.)]|[-*•])\s+(.*\S)", line)
        if match:
            steps.append(match.group(1))
    return steps


def test_report(result: TestResult, *, limit: int = 20) -> str:
    """Test results as the model reads them: the verdict, what fails and why, the end of the output."""
    if not result.ran:
        return "There is no test command for this project."
    lines = [f"Tests: {result.summary()}"]
    failing = [t for t, o in result.tests.items() if o in ("failed", "error")]
    if failing:
        lines.append("Failing:")
        for test_id in failing[:limit]:
            message = result.failures.get(test_id, "").strip().splitlines()
            lines.append(f"- {test_id}" + (f": {message[0][:300]}" if message else ""))
        if len(failing) > limit:
            lines.append(f"- ... and {len(failing) - limit} more")
    if result.output and not result.ok:
        lines += ["Output (end):", result.output[-3000:]]
    return "\n".join(lines)


def _section(title: str, body: str) -> str:
    return f"## {title}\n\n{body.strip()}\n"


def task_message(task: Task, guidance: RepoGuidance, baseline: TestResult | None, *, ask_plan: bool) -> str:
    parts = [f"# Task: {task.title.strip()}\n"]
    if task.description.strip():
        parts.append(task.description.strip() + "\n")
    if task.acceptance_criteria.strip():
        parts.append(_section("Acceptance criteria", task.acceptance_criteria))
    comments = task.comments()
    if comments:
        lines = []
        for c in comments:
            where = f"{c.file}:{c.line}" if c.file and c.line else (c.file or "general")
            lines.append(f"- {where}: {c.text.strip()}")
        parts.append(
            _section("Review feedback on your previous attempt (address every point)", "\n".join(lines))
        )
    for name, text in guidance.files.items():
        parts.append(_section(f"Repository guidance: {name}", text))
    if guidance.tree:
        parts.append(_section("Files", f"```\n{guidance.tree}\n```"))
    if task.test_command.strip():
        tests = f"Test command, run in /workspace: `{task.test_command.strip()}`"
        if baseline is not None and baseline.ran:
            tests += "\n\nBefore any change:\n" + test_report(baseline)
        parts.append(_section("Tests", tests))
    else:
        parts.append(_section("Tests", "The project has no test command; check your change as best you can."))
    if task.approved_plan:
        parts.append(_section("Approved plan (follow it)", task.approved_plan))
    elif ask_plan:
        parts.append(PLAN_REQUEST.strip())
    return "\n".join(parts).strip()


def text_observation(text: str) -> str:
    return f"Output:\n{text}"


NO_ACTION = "Your reply has no tool call. Call a tool to act, or submit when the task is done."
NO_ACTION_TEXT = "Your reply has no shell block. Reply with exactly one ```bash block, or submit."
EMPTY_REPLY = "Your reply was empty. Call a tool to act, or submit when the task is done."


def submit_refused(report: str) -> str:
    return (
        f"Not submitted: the tests still fail.\n\n{report}\n\n"
        "Fix them and submit again. If they cannot pass, submit again and say why in the summary."
    )
