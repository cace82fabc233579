"""A recorded run in the shapes training and evaluation tools read (agents.export)."""

from __future__ import annotations

import json

import pytest

from agents.config import AgentConfig
from agents.export import (
    Skip,
    openai_record,
    swebench_prediction,
    tool_calls,
    trl_record,
    trl_to_openai_messages,
)
from agents.llm import make_model
from agents.loop import run_agent
from agents.task import Task
from tests.agents.conftest import API_KEY, openai_config
from tests.support import SCRIPTS, load_script

TASK = Task(title="Fix add()", description="`add(2, 3)` gives -1.", test_command="python3 -m pytest -q")


@pytest.fixture
def record(model_server, sandbox):  # type: ignore[no-untyped-def]
    """The record of a real run: the scripted model fixes add() in a bubblewrap sandbox."""
    server = model_server(*load_script(SCRIPTS / "fix_calc.json").replies)
    result = run_agent(TASK, sandbox=sandbox, model=make_model(openai_config(server)), config=AgentConfig())
    assert result.outcome == "submitted", result.reason
    return result.trajectory.to_record()


def roles(messages: list[dict]) -> list[str]:
    return [m["role"] for m in messages]


def test_an_openai_line_has_messages_and_tools_with_arguments_as_json_strings(record):
    line = json.loads(json.dumps(openai_record(record)))
    assert set(line) == {"messages", "tools", "parallel_tool_calls"}
    assert line["parallel_tool_calls"] is False
    assert roles(line["messages"])[:2] == ["system", "user"]
    assert line["messages"][-1]["role"] == "assistant"  # the submit's result teaches nothing
    assert {t["function"]["name"] for t in line["tools"]} >= {
        "bash",
        "view_file",
        "edit_file",
        "run_tests",
        "submit",
    }
    for message in line["messages"]:
        assert set(message) <= {"role", "content", "tool_calls", "tool_call_id", "name"}
        for call in message.get("tool_calls", []):
            assert call["type"] == "function" and call["id"]
            assert isinstance(call["function"]["arguments"], str)
            json.loads(call["function"]["arguments"])
        if message["role"] == "tool":
            assert message["tool_call_id"] and isinstance(message["content"], str)
    names = [name for name, _ in tool_calls(line["messages"])]
    assert names == ["view_file", "edit_file", "run_tests", "submit"]


def test_a_trl_line_has_the_same_conversation_with_arguments_as_objects(record):
    openai = openai_record(record)
    trl = json.loads(json.dumps(trl_record(record)))
    assert set(trl) == {"messages", "tools"}
    assert roles(trl["messages"]) == roles(openai["messages"])
    for message in trl["messages"]:
        assert isinstance(message["content"], str)
        for call in message.get("tool_calls", []):
            assert isinstance(call["function"]["arguments"], dict)
        if message["role"] == "tool":
            assert message["name"] in {"view_file", "edit_file", "run_tests", "submit"}
    edit = next(args for name, args in tool_calls(trl["messages"]) if name == "edit_file")
    assert edit == {"path": "calc.py", "old_text": "return a - b", "new_text": "return a + b"}


def test_tool_calls_round_trip_between_the_two_shapes(record):
    openai = openai_record(record)
    trl = trl_record(record)
    assert tool_calls(openai["messages"]) == tool_calls(trl["messages"])
    back = trl_to_openai_messages(trl["messages"])
    assert tool_calls(back) == tool_calls(openai["messages"])
    original = [m for m in record["messages"] if m.get("tool_calls")]
    assert tool_calls(original) == tool_calls(openai["messages"])


def test_extras_ride_along_and_the_key_never_does(record):
    extras = {"reward": record["reward"], "metadata": {"run_id": 7}}
    for line in (openai_record(record, extras=extras), trl_record(record, extras=extras)):
        assert line["reward"]["resolved"] is True and line["metadata"] == {"run_id": 7}
        assert API_KEY not in json.dumps(line)


def conversation(*replies: dict) -> dict:
    return {
        "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}, *replies],
        "tools": [],
    }


def call(name: str, arguments: str, id: str) -> dict:
    return {"id": id, "type": "function", "function": {"name": name, "arguments": arguments}}


def test_arguments_that_are_not_an_object_keep_their_text_for_openai_and_skip_the_run_for_trl():
    record = conversation(
        {"role": "assistant", "content": None, "tool_calls": [call("bash", '{"command": ', "c1")]},
        {"role": "tool", "tool_call_id": "c1", "content": "error: arguments are not JSON"},
        {"role": "assistant", "content": None, "tool_calls": [call("submit", '{"summary": "x"}', "c2")]},
    )
    line = openai_record(record)
    assert line["messages"][2]["tool_calls"][0]["function"]["arguments"] == '{"command": '
    assert "content" not in line["messages"][2]
    with pytest.raises(Skip, match="not JSON"):
        trl_record(record)
    with pytest.raises(Skip, match="not a JSON object"):
        trl_record(conversation({"role": "assistant", "tool_calls": [call("bash", "[1]", "c1")]}))


def test_parallel_calls_are_declared_and_a_run_without_a_reply_is_skipped():
    record = conversation(
        {"role": "assistant", "content": "", "tool_calls": [call("a", "{}", "1"), call("b", "{}", "2")]}
    )
    record["tools"] = [{"type": "function", "function": {"name": "a", "parameters": {}}}]
    assert openai_record(record)["parallel_tool_calls"] is True
    with pytest.raises(Skip, match="no assistant message"):
        openai_record(conversation())


def test_a_swebench_prediction_has_the_three_fields_the_harness_reads():
    assert swebench_prediction("acme__calc-1", "gpt-x", "diff --git a/x b/x\n") == {
        "instance_id": "acme__calc-1",
        "model_name_or_path": "gpt-x",
        "model_patch": "diff --git a/x b/x\n",
    }
