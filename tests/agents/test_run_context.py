"""End to end: a history that outgrows the context window is condensed, and the condensation recorded."""

from __future__ import annotations

import json

from agents.config import AgentConfig
from agents.llm import make_model
from agents.loop import run_agent
from agents.task import Task
from tests.agents.conftest import openai_config
from tests.support import Quirks, submit, tool

TASK = Task(title="Read the big files", test_command="")
CONFIG = AgentConfig(plan=False, keep_recent_observations=1)
BIG = tool("bash", command="python3 -c \"print('x' * 7000)\"")


def test_old_observations_are_condensed_before_the_window_fills(model_server, sandbox, events):
    server = model_server(BIG, BIG, BIG, submit("read them"))
    model = make_model(openai_config(server, context_window=5000))

    result = run_agent(TASK, sandbox=sandbox, model=model, config=CONFIG, sink=events)

    assert result.outcome == "submitted", result.reason
    condensed = events.of("condensed")
    assert (
        condensed
        and condensed[0]["removed"] >= 1
        and condensed[0]["tokens_after"] < condensed[0]["tokens_before"]
    )
    record = result.trajectory.to_record()
    first = record["metadata"]["condensations"][0]
    index, original = next(iter(first["originals"].items()))
    assert original["content"].startswith("x" * 7000)
    assert record["messages"][int(index)]["content"].startswith("[condensed to fit the context window")
    assert record["messages"][int(index)]["tool_call_id"] == original["tool_call_id"]
    # The server never got a prompt bigger than the window (estimated as it does: 4 characters a token).
    assert max(len(r.raw) // 4 for r in server.requests) < 5000
    assert "x" * 7000 in server.requests[-1].raw  # the newest output is kept whole


def test_a_server_that_says_the_prompt_is_too_long_gets_a_condensed_one(model_server, sandbox, events):
    server = model_server(BIG, BIG, submit("done"), quirks=Quirks(context_window=3500))
    model = make_model(openai_config(server, context_window=1_000_000))

    result = run_agent(TASK, sandbox=sandbox, model=model, config=CONFIG, sink=events)

    assert result.outcome == "submitted", result.reason
    assert len(events.of("condensed")) == 1
    refused = [r for r in server.requests if len(r.raw) // 4 > 3500]
    assert len(refused) == 1 and len(server.requests) == 4


def test_a_prompt_that_cannot_shrink_enough_ends_the_run_with_the_servers_reason(
    model_server, sandbox, events
):
    server = model_server(submit("never reached"), quirks=Quirks(context_window=100))

    result = run_agent(
        TASK, sandbox=sandbox, model=make_model(openai_config(server)), config=CONFIG, sink=events
    )

    assert result.outcome == "context_exceeded"
    assert "maximum context length is 100 tokens" in result.reason
    assert json.dumps(events.of("error")[-1]).count("context_exceeded") == 1
