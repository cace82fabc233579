"""End to end: every way a run can go wrong ends with a clear reason, recorded in events and trajectory."""

from __future__ import annotations

import time

import pytest

from agents.config import AgentConfig
from agents.llm import make_model
from agents.loop import run_agent
from agents.task import Task
from tests.agents.conftest import openai_config
from tests.support import Call, calls, garbage, hang, http_error, submit, text, tool

TASK = Task(title="Fix add()", test_command="python3 -m pytest -q")
NO_PLAN = AgentConfig(plan=False)
FIX_EDIT = tool("edit_file", path="calc.py", old_text="return a - b", new_text="return a + b")


def test_garbage_from_the_server_three_times_in_a_row_ends_the_run(model_server, sandbox, events):
    server = model_server(garbage(), garbage("<html>502</html>"), garbage("data: {oops\n\n"))

    result = run_agent(
        TASK, sandbox=sandbox, model=make_model(openai_config(server)), config=NO_PLAN, sink=events
    )

    assert result.outcome == "format_error"
    assert result.reason.startswith(
        "3 malformed replies in a row; the last: the model server's reply could not be read"
    )
    recoverable = [p for p in events.of("error") if p.get("recoverable")]
    assert len(recoverable) == 3 and events.of("error")[-1]["reason"] == "format_error"
    assert [len(s["errors"]) for s in result.trajectory.steps] == [1, 1, 1]
    assert [m["role"] for m in result.trajectory.messages] == [
        "system",
        "user",
    ]  # garbage never joins the history
    assert result.final is not None and result.reward.resolved is False


def test_malformed_calls_become_error_observations_and_a_good_step_resets_the_count(
    model_server, sandbox, events
):
    server = model_server(
        tool("delete_everything", path="/"),
        tool("bash", '{"command": "ls"'),
        FIX_EDIT,
        text(""),
        text("I think I am done."),
        tool("view_file", path="calc.py"),
        tool("bash", "[1, 2]"),
        submit("fixed"),
    )

    result = run_agent(
        TASK, sandbox=sandbox, model=make_model(openai_config(server)), config=NO_PLAN, sink=events
    )

    assert result.outcome == "submitted", result.reason
    seen = [r.messages[-1]["content"] for r in server.requests[1:]]
    assert seen[0].startswith(
        "Error: there is no tool named 'delete_everything'; the tools are: bash, view_file"
    )
    assert seen[1].startswith("Error: the arguments of bash are not valid JSON")
    assert seen[2].startswith("Edited /workspace/calc.py")
    assert seen[3].startswith("Your reply was empty")
    assert seen[4].startswith("Your reply has no tool call")
    assert seen[6] == "Error: the arguments of bash must be a JSON object."
    assert [p["reason"] for p in events.of("error")] == ["malformed_reply"] * 5
    assert events.of("tool_call")[1]["arguments"] == {"_raw": '{"command": "ls"'}


def test_unknown_tools_every_time_end_the_run_as_a_format_error(model_server, sandbox):
    server = model_server(*[tool("teleport")] * 3)

    result = run_agent(TASK, sandbox=sandbox, model=make_model(openai_config(server)), config=NO_PLAN)

    assert result.outcome == "format_error" and "no tool named 'teleport'" in result.reason


def test_a_429_with_retry_after_is_waited_out_and_the_run_carries_on(model_server, sandbox, events):
    server = model_server(http_error(429, "rate limited", retry_after=0.2), FIX_EDIT, submit("fixed"))

    started = time.monotonic()
    result = run_agent(
        TASK, sandbox=sandbox, model=make_model(openai_config(server)), config=NO_PLAN, sink=events
    )

    assert result.outcome == "submitted" and result.reward.resolved is True
    assert time.monotonic() - started >= 0.2
    retry = [p for p in events.of("status") if p["status"] == "retrying"]
    assert len(retry) == 1 and "429: rate limited; retrying in 0.2 s" in retry[0]["detail"]
    assert result.trajectory.steps[0]["attempts"] == 2


def test_a_hanging_model_ends_the_run_with_a_clear_reason(model_server, sandbox, events):
    server = model_server(hang(10), hang(10))
    model = make_model(openai_config(server, request_timeout=0.5, max_retries=1))

    result = run_agent(TASK, sandbox=sandbox, model=model, config=NO_PLAN, sink=events)

    assert result.outcome == "model_error"
    assert "no answer from" in result.reason and "within 0.5 s (gave up after 2 attempts)" in result.reason
    assert events.of("error")[-1] == {"message": result.reason, "reason": "model_error"}
    assert result.trajectory.metadata["reason"] == result.reason
    assert events.statuses()[-1] == "finished"


def ended_by_budget(result, events, outcome: str = "limits_exceeded") -> None:
    """What every budget leaves: the outcome in the result, the events and the trajectory."""
    assert result.outcome == outcome
    assert events.of("error")[-1] == {"message": result.reason, "reason": outcome}
    assert events.of("status")[-1]["outcome"] == outcome
    assert (
        result.trajectory.metadata["outcome"] == outcome
        and result.trajectory.metadata["reason"] == result.reason
    )
    assert result.final is not None and result.reward is not None  # the change is still measured


def test_the_step_budget(model_server, sandbox, events):
    server = model_server(*[tool("bash", command="true")] * 5)
    config = AgentConfig(plan=False, max_steps=3)

    result = run_agent(
        TASK, sandbox=sandbox, model=make_model(openai_config(server)), config=config, sink=events
    )

    ended_by_budget(result, events)
    assert result.reason == "step limit reached (3 of 3 steps)"
    assert len(server.requests) == 3 and result.steps == 3 and len(result.trajectory.steps) == 3


def test_the_token_budget(model_server, sandbox, events):
    server = model_server(
        *[calls(Call("bash", {"command": "true"}), prompt_tokens=400, completion_tokens=100)] * 5
    )
    config = AgentConfig(plan=False, max_tokens=1200)

    result = run_agent(
        TASK, sandbox=sandbox, model=make_model(openai_config(server)), config=config, sink=events
    )

    ended_by_budget(result, events)
    assert result.reason == "token budget spent (1500 of 1200 tokens)"
    assert events.of("usage")[-1]["total_tokens"] == 1500
    assert [s["prompt_tokens"] for s in result.trajectory.steps] == [400, 400, 400]


def test_the_cost_budget(model_server, sandbox, events):
    server = model_server(
        *[calls(Call("bash", {"command": "true"}), prompt_tokens=1000, completion_tokens=0)] * 5
    )
    model = make_model(openai_config(server, input_cost_per_token=1e-4))
    config = AgentConfig(plan=False, max_cost=0.25)

    result = run_agent(TASK, sandbox=sandbox, model=model, config=config, sink=events)

    ended_by_budget(result, events)
    assert result.reason == "cost budget spent (0.3000 of 0.2500)"
    assert events.of("usage")[-1]["total_cost"] == pytest.approx(0.3)
    assert result.trajectory.metadata["usage"]["cost"] == pytest.approx(0.3)


def test_the_wall_clock_budget_also_bounds_a_long_command(model_server, sandbox, events):
    server = model_server(tool("bash", command="sleep 30"), tool("bash", command="true"))
    config = AgentConfig(plan=False, wall_clock=1.5, run_baseline=False)

    started = time.monotonic()
    result = run_agent(
        TASK, sandbox=sandbox, model=make_model(openai_config(server)), config=config, sink=events
    )

    ended_by_budget(result, events, "time_exceeded")
    assert result.reason.startswith("wall-clock limit reached")
    assert time.monotonic() - started < 10
    assert "timed out" in result.trajectory.messages[-1]["content"]
    assert "timed out" in events.of("tool_result")[-1]["output"]


def test_a_model_that_ignores_tools_and_writes_its_calls_as_text_is_understood(
    model_server, sandbox, demo_repo, events
):
    edit = '{"name": "edit_file", "arguments": {"path": "calc.py", "old_text": "a - b", "new_text": "a + b"}}'
    server = model_server(text(f"Fixing.<tool_call>{edit}</tool_call>"), submit("fixed"))

    result = run_agent(
        TASK, sandbox=sandbox, model=make_model(openai_config(server)), config=NO_PLAN, sink=events
    )

    assert result.outcome == "submitted" and result.reward.resolved is True
    observation = server.requests[1].messages[-1]
    assert observation["role"] == "user" and observation["content"].startswith(
        "Output:\nEdited /workspace/calc.py"
    )
    assert events.of("tool_call")[0]["name"] == "edit_file"


def test_a_cancelled_run_stops_between_steps_without_final_tests(model_server, sandbox, events):
    server = model_server(*[tool("bash", command="echo step")] * 5)
    steps_done: list[int] = []

    result = run_agent(
        TASK,
        sandbox=sandbox,
        model=make_model(openai_config(server)),
        config=NO_PLAN,
        sink=events,
        should_cancel=lambda: len(steps_done) >= 2,
        on_step=lambda index, state: steps_done.append(index),
    )

    assert result.outcome == "cancelled" and result.reason == "cancelled by request"
    assert steps_done == [0, 1] and len(server.requests) == 2
    assert result.final is None and result.reward is None
    assert [p["phase"] for p in events.of("test_result")] == ["baseline"]
    assert events.of("error")[-1]["reason"] == "cancelled"


def test_a_submit_while_tests_fail_is_turned_back_once_with_their_results(model_server, sandbox, events):
    server = model_server(submit("too early"), submit("giving up"))

    result = run_agent(
        TASK, sandbox=sandbox, model=make_model(openai_config(server)), config=NO_PLAN, sink=events
    )

    refusal = server.requests[1].messages[-1]["content"]
    assert refusal.startswith("Not submitted: the tests still fail.") and "test_calc::test_add" in refusal
    assert result.outcome == "submitted" and result.summary == "giving up"
    assert result.reward.resolved is False and result.reward.still_failing == ["test_calc::test_add"]


def test_configured_secrets_never_leave_the_run(model_server, sandbox, demo_repo, events):
    (demo_repo / "settings.py").write_text("TOKEN = 'ghp_supersecretvalue42'\n")
    server = model_server(tool("bash", command="cat settings.py"), submit("read it"))
    config = AgentConfig(plan=False, secrets=("ghp_supersecretvalue42",))

    result = run_agent(
        Task(title="Read the settings"),
        sandbox=sandbox,
        model=make_model(openai_config(server)),
        config=config,
        sink=events,
    )

    everything = (
        result.trajectory.to_jsonl() + repr([e.payload for e in events]) + repr(server.requests[-1].raw)
    )
    assert "ghp_supersecretvalue42" not in everything
    assert "TOKEN = '[REDACTED]'" in server.requests[-1].messages[-1]["content"]
