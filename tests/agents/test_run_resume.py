"""End to end: stopping for plan approval, resuming, and carrying on after a crash from a snapshot."""

from __future__ import annotations

import json
from dataclasses import replace

from agents.config import AgentConfig
from agents.llm import make_model
from agents.loop import run_agent
from agents.task import ResumeState, Task
from tests.agents.conftest import openai_config
from tests.support import SCRIPTS, load_script, submit, text, tool

TASK = Task(title="Fix add()", test_command="python3 -m pytest -q")
FIX = load_script(SCRIPTS / "fix_calc.json").replies
EDITED_PLAN = "1. Fix add() in calc.py.\n2. Run the tests.\n3. Also check mul()."


def test_the_run_stops_at_the_plan_and_resumes_with_the_edited_plan(model_server, sandbox, demo_repo, events):
    server = model_server(*FIX)
    model = make_model(openai_config(server))
    config = AgentConfig(require_plan_approval=True)

    waiting = run_agent(TASK, sandbox=sandbox, model=model, config=config, sink=events)

    assert (
        waiting.outcome == "awaiting_plan_approval" and waiting.reason == "the plan is waiting for approval"
    )
    assert waiting.plan.startswith("1. Read calc.py.")
    assert len(server.requests) == 1 and "tool_call" not in events.kinds()
    assert events.of("plan")[0]["awaiting_approval"] is True
    assert "awaiting_plan_approval" in events.statuses() or events.statuses()[-1] == "finished"
    assert waiting.final is None and waiting.reward is None
    assert "error" not in events.kinds()
    assert (demo_repo / "calc.py").read_text().startswith("def add(a, b):\n    return a - b")

    # The platform stores the state as JSON and a person edits the plan.
    stored = json.loads(json.dumps(waiting.state.to_dict()))
    events.clear()
    done = run_agent(
        replace(TASK, approved_plan=EDITED_PLAN),
        sandbox=sandbox,
        model=model,
        config=config,
        sink=events,
        resume=ResumeState.from_dict(stored),
    )

    assert done.outcome == "submitted" and done.reward.resolved is True
    approval = server.requests[1].messages[-1]["content"]
    assert (
        approval.startswith("A reviewer edited your plan. Follow this version:")
        and "Also check mul()" in approval
    )
    assert events.statuses()[0] == "resuming"
    assert events.of("plan")[0] == {
        "plan": EDITED_PLAN,
        "steps": ["Fix add() in calc.py.", "Run the tests.", "Also check mul()."],
        "awaiting_approval": False,
        "approved": True,
        "edited": True,
    }
    assert [p["phase"] for p in events.of("test_result")] == ["step", "submit", "final"]  # no second baseline
    assert done.baseline.failed == 1 and done.plan == EDITED_PLAN
    assert done.steps == 5 and len(done.trajectory.steps) == 5
    roles = [m["role"] for m in done.trajectory.messages]
    assert roles[:5] == ["system", "user", "assistant", "user", "assistant"]


def test_resuming_without_an_approved_plan_keeps_waiting(model_server, sandbox):
    server = model_server(text("1. Do it."))
    model = make_model(openai_config(server))
    config = AgentConfig(require_plan_approval=True)

    waiting = run_agent(TASK, sandbox=sandbox, model=model, config=config)
    again = run_agent(TASK, sandbox=sandbox, model=model, config=config, resume=waiting.state)

    assert again.outcome == "awaiting_plan_approval" and len(server.requests) == 1


def test_a_run_resumes_from_the_snapshot_of_its_last_completed_step(model_server, sandbox, demo_repo):
    snapshots: dict[int, dict] = {}
    first = model_server(*FIX[:3], tool("bash", command="exit 0"))  # plan, view, edit, then "crash"
    crashed = run_agent(
        TASK,
        sandbox=sandbox,
        model=make_model(openai_config(first)),
        config=AgentConfig(max_steps=3),
        on_step=lambda index, state: snapshots.update({index: json.loads(json.dumps(state.to_dict()))}),
    )
    assert crashed.outcome == "limits_exceeded" and sorted(snapshots) == [0, 1, 2]

    second = model_server(tool("run_tests"), submit("fixed after a restart"))
    resumed = run_agent(
        TASK,
        sandbox=sandbox,
        model=make_model(openai_config(second)),
        config=AgentConfig(max_steps=10),
        resume=ResumeState.from_dict(snapshots[2]),
    )

    assert resumed.outcome == "submitted" and resumed.reward.resolved is True
    shown = second.requests[0].messages
    assert shown[-1]["role"] == "tool" and shown[-1]["content"].startswith("Edited /workspace/calc.py")
    assert resumed.steps == 5 and [s["index"] for s in resumed.trajectory.steps] == [0, 1, 2, 3, 4]
    assert resumed.usage.model_calls == 5
    assert resumed.state.elapsed >= snapshots[2]["elapsed"]
