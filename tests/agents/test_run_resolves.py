"""End to end: a scripted model fixes a failing test in a real sandbox, over each protocol."""

from __future__ import annotations

import json

import pytest

from agents.config import AgentConfig
from agents.llm import make_model
from agents.loop import run_agent
from agents.task import Task
from agents.trajectory import read_trajectories
from tests.agents.conftest import API_KEY, anthropic_config, openai_config
from tests.support import SCRIPTS, Quirks, load_script, submit, text

TASK = Task(
    title="Fix add()",
    description="`add(2, 3)` gives -1.",
    acceptance_criteria="test_add passes and nothing else breaks.",
    test_command="python3 -m pytest -q",
)
FIX = load_script(SCRIPTS / "fix_calc.json").replies


def test_a_failing_test_is_fixed_and_the_reward_says_resolved(
    model_server, sandbox, demo_repo, events, tmp_path
):
    server = model_server(*FIX, chunk_size=5)
    model = make_model(openai_config(server, input_cost_per_token=1e-6, output_cost_per_token=2e-6))

    result = run_agent(TASK, sandbox=sandbox, model=model, config=AgentConfig(), sink=events)

    assert result.outcome == "submitted", result.reason
    assert result.summary.startswith("add() subtracted its arguments")
    assert (demo_repo / "calc.py").read_text().startswith("def add(a, b):\n    return a + b")
    assert result.baseline.summary() == "1 passed, 1 failed (exit code 1)"
    assert result.final.summary() == "2 passed, 0 failed"
    reward = result.reward
    assert reward.resolved is True and reward.score == 1.0
    assert reward.newly_passing == ["test_calc::test_add"] and reward.regressions == []
    assert (reward.diff.files, reward.diff.additions, reward.diff.deletions) == (1, 1, 1)
    assert result.steps == 5 and result.usage.model_calls == 5
    assert result.usage.cost > 0

    # What the model saw: the task, the guidance, the baseline failure; then each observation.
    first = server.requests[0]
    assert first.tools == [] and "Before changing anything, write a short plan" in first.text
    for expected in (
        "Fix add()",
        "Never touch the tests",
        "test_calc.py",
        "test_calc::test_add: assert -1 == 5",
    ):
        assert expected in first.text
    last = server.requests[-1].messages
    assert last[-1]["role"] == "tool" and last[-1]["content"].startswith("Tests: 2 passed, 0 failed")
    assert {t["function"]["name"] for t in server.requests[1].tools} >= {
        "bash",
        "edit_file",
        "run_tests",
        "submit",
    }

    # What the platform heard.
    kinds = events.kinds()
    assert events.statuses()[:4] == ["preparing", "baseline", "planning", "running"]
    assert events.statuses()[-2:] == ["final_tests", "finished"]
    assert [p["phase"] for p in events.of("test_result")] == ["baseline", "step", "submit", "final"]
    plan = events.of("plan")[0]
    assert plan["steps"][1] == "Make add() add instead of subtract." and plan["awaiting_approval"] is False
    deltas = [p["delta"] for p in events.of("message") if "delta" in p]
    assert "".join(deltas).startswith("1. Read calc.py.") and len(deltas) >= 2  # gathered, not one per chunk
    assert [p["name"] for p in events.of("tool_call")] == ["view_file", "edit_file", "run_tests", "submit"]
    assert kinds.index("tool_call") < kinds.index("tool_result")
    assert any("2 passed" in p["chunk"] for p in events.of("command_output"))
    assert events.of("usage")[-1]["total_cost"] == result.usage.cost
    assert "error" not in kinds
    assert API_KEY not in json.dumps([e.payload for e in events])

    # What the trajectory keeps, as the JSONL that fine-tuning tools read.
    path = tmp_path / "runs.jsonl"
    result.trajectory.write(path)
    result.trajectory.write(path)
    records = read_trajectories(path)
    assert len(records) == 2
    record = records[0]
    assert [m["role"] for m in record["messages"]][:4] == ["system", "user", "assistant", "user"]
    calls = [m for m in record["messages"] if m.get("tool_calls")]
    assert calls[1]["tool_calls"][0]["function"]["name"] == "edit_file"
    assert json.loads(calls[1]["tool_calls"][0]["function"]["arguments"])["new_text"] == "return a + b"
    assert record["messages"][-1] == {
        "role": "tool",
        "tool_call_id": calls[-1]["tool_calls"][0]["id"],
        "content": "Submitted.",
    }
    assert record["tools"][0]["type"] == "function"
    assert record["reward"]["resolved"] is True
    meta = record["metadata"]
    assert (
        meta["outcome"] == "submitted"
        and meta["model"]["model"] == "scripted"
        and "api_key" not in meta["model"]
    )
    assert meta["baseline"]["failed"] == 1 and meta["final"]["passed"] == 2
    assert len(meta["steps"]) == 5 and meta["steps"][2]["tool_calls"][0]["name"] == "edit_file"
    assert all(step["model_seconds"] > 0 for step in meta["steps"])
    assert API_KEY not in path.read_text()


def test_the_same_run_works_over_the_anthropic_protocol(model_server, sandbox, demo_repo, events):
    server = model_server(*FIX)

    result = run_agent(TASK, sandbox=sandbox, model=make_model(anthropic_config(server)), sink=events)

    assert result.outcome == "submitted" and result.reward.resolved is True
    assert all(r.protocol == "anthropic" for r in server.requests)
    tool_turn = server.requests[2].body["messages"][-1]
    assert tool_turn["role"] == "user" and tool_turn["content"][0]["type"] == "tool_result"


def test_a_model_without_tool_calling_works_through_shell_blocks(model_server, sandbox, demo_repo, events):
    server = model_server(
        text("1. Fix the operator with sed.\n2. Run the tests."),
        text("Fixing it.\n```bash\nsed -i 's/a - b/a + b/' calc.py && python3 -m pytest -q\n```"),
        text("All green.\n```bash\nsubmit\nadd() now adds.\n```"),
    )
    model = make_model(openai_config(server, tool_mode="text", stream=False))

    result = run_agent(TASK, sandbox=sandbox, model=model, sink=events)

    assert result.outcome == "submitted" and result.summary == "add() now adds." and result.reward.resolved
    assert all(r.tools == [] for r in server.requests)
    assert "exactly one fenced shell block" in server.requests[0].messages[0]["content"]
    observation = server.requests[2].messages[-1]
    assert observation["role"] == "user" and "2 passed" in observation["content"]
    assert result.trajectory.to_record()["tools"] == []
    assert [p["name"] for p in events.of("tool_call")] == ["bash", "submit"]


def test_a_server_that_rejects_tools_is_answered_in_the_text_protocol(
    model_server, sandbox, demo_repo, events
):
    server = model_server(
        text("1. Fix it."),
        text("```bash\nsed -i 's/a - b/a + b/' calc.py\n```"),
        text("```bash\nsubmit\nFixed.\n```"),
        quirks=Quirks(reject_tools=True),
    )

    result = run_agent(TASK, sandbox=sandbox, model=make_model(openai_config(server)), sink=events)

    assert result.outcome == "submitted" and result.reward.resolved is True
    assert "degraded" in events.statuses()
    assert result.trajectory.metadata["tool_mode"] == "text"
    assert "rejected tool definitions" in result.trajectory.metadata["notes"][0]
    assert "fenced shell block" in server.requests[-1].messages[0]["content"]


def test_review_feedback_and_an_approved_plan_reach_the_first_message(model_server, sandbox, events):
    server = model_server(submit("nothing to do"))
    task = Task(
        title="Tidy calc",
        test_command="",
        review_feedback=(
            {"file": "calc.py", "line": 2, "text": "Use a docstring."},
            {"text": "Keep it short."},
        ),
        approved_plan="1. Add a docstring.",
    )

    result = run_agent(task, sandbox=sandbox, model=make_model(openai_config(server)), sink=events)

    first = server.requests[0].messages[1]["content"]
    assert "- calc.py:2: Use a docstring." in first and "- general: Keep it short." in first
    assert "## Approved plan (follow it)\n\n1. Add a docstring." in first
    assert "write a short plan" not in first
    assert result.outcome == "submitted" and result.plan == "1. Add a docstring."
    assert result.reward.resolved is None and result.final is None
    assert "test_result" not in events.kinds()


@pytest.mark.docker
def test_the_fix_works_the_same_in_a_docker_sandbox(model_server, demo_repo, events):
    from agents.sandbox import get_backend
    from agents.sandbox.base import SandboxSpec

    backend = get_backend("docker")
    problem = backend.check()
    if problem is not None:
        pytest.fail(problem)  # a missing sandbox fails, never skips: CI installs it
    server = model_server(*FIX)

    with backend.start(SandboxSpec(workspace=demo_repo)) as sandbox:
        result = run_agent(TASK, sandbox=sandbox, model=make_model(openai_config(server)), sink=events)

    assert result.outcome == "submitted" and result.reward.resolved is True
    assert result.reward.newly_passing == ["test_calc::test_add"]


def test_each_model_call_reports_its_own_time_retries_included(model_server, sandbox, demo_repo, events):
    from tests.support import http_error

    # The second call is refused once with a 429 and a 0.3 s Retry-After, then answered.
    server = model_server(FIX[0], http_error(429, "slow down", retry_after=0.3), *FIX[1:])
    model = make_model(openai_config(server))

    result = run_agent(TASK, sandbox=sandbox, model=model, config=AgentConfig(), sink=events)

    assert result.outcome == "submitted", result.reason
    usage = events.of("usage")
    assert [u["attempts"] for u in usage] == [1, 2, 1, 1, 1]
    assert usage[1]["seconds"] >= 0.3 > usage[0]["seconds"]
    assert usage[-1]["total_model_seconds"] == pytest.approx(sum(u["seconds"] for u in usage), abs=0.01)
    assert result.usage.model_seconds == pytest.approx(usage[-1]["total_model_seconds"], abs=0.001)
