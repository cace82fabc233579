"""The Anthropic client against the scripted server speaking the messages protocol."""

from __future__ import annotations

import json

import pytest

from agents.llm import MalformedReply, ToolSpec, make_model
from agents.llm.anthropic_client import to_anthropic
from agents.outcomes import ContextOverflow, ModelError
from tests.agents.conftest import API_KEY, anthropic_config
from tests.support import Call, Quirks, calls, garbage, hang, http_error, text, tool

BASH = ToolSpec(
    "bash",
    "run a command",
    {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]},
)
HELLO = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}]


@pytest.mark.parametrize("stream", [True, False])
def test_text_and_tool_calls_come_back_with_usage(model_server, stream):
    server = model_server(
        calls(
            Call("bash", {"command": "ls"}),
            Call("bash", {"command": "pwd"}),
            content="Two looks.",
            prompt_tokens=50,
            completion_tokens=9,
        ),
        chunk_size=3,
    )
    deltas: list[str] = []

    reply = make_model(anthropic_config(server, stream=stream)).query(
        HELLO, tools=[BASH], on_delta=deltas.append
    )

    assert reply.content == "Two looks." and "".join(deltas) == "Two looks."
    assert [json.loads(c.arguments) for c in reply.tool_calls] == [{"command": "ls"}, {"command": "pwd"}]
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (50, 9)
    assert reply.finish_reason == "tool_use"
    body = server.requests[0].body
    assert body["system"] == "be brief" and body["tools"][0]["input_schema"] == BASH.parameters
    assert body["max_tokens"] == 8192


def test_the_history_is_translated_with_tool_results_inside_one_user_turn():
    history = [
        *HELLO,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "a",
                    "type": "function",
                    "function": {"name": "bash", "arguments": '{"command": "ls"}'},
                },
                {"id": "b", "type": "function", "function": {"name": "bash", "arguments": "{broken"}},
            ],
        },
        {"role": "tool", "tool_call_id": "a", "content": "x.py"},
        {"role": "tool", "tool_call_id": "b", "content": "Error: not JSON"},
        {"role": "user", "content": "Go on."},
        {"role": "assistant", "content": ""},
    ]

    system, turns = to_anthropic(history)

    assert system == "be brief"
    assert [t["role"] for t in turns] == ["user", "assistant", "user", "assistant"]
    assert turns[1]["content"][0] == {
        "type": "tool_use",
        "id": "a",
        "name": "bash",
        "input": {"command": "ls"},
    }
    assert turns[1]["content"][1]["input"] == {}
    assert [b["type"] for b in turns[2]["content"]] == ["tool_result", "tool_result", "text"]
    assert turns[3]["content"] == [{"type": "text", "text": "(empty reply)"}]


def test_an_overloaded_529_is_retried(model_server):
    server = model_server(http_error(529, "overloaded", retry_after=0), tool("bash", command="ls"))
    statuses: list[str] = []

    reply = make_model(anthropic_config(server)).query(HELLO, tools=[BASH], on_status=statuses.append)

    assert reply.tool_calls[0].name == "bash" and reply.attempts == 2
    assert "529" in statuses[0]


def test_a_hang_times_out_and_is_retried(model_server):
    server = model_server(hang(5), text("back"))

    assert make_model(anthropic_config(server, request_timeout=0.5)).query(HELLO).content == "back"


def test_a_prompt_too_long_is_a_context_overflow(model_server):
    server = model_server(quirks=Quirks(context_window=5))

    with pytest.raises(ContextOverflow, match="prompt is too long"):
        make_model(anthropic_config(server)).query(HELLO)


@pytest.mark.parametrize("stream", [True, False])
def test_garbage_is_a_malformed_reply(model_server, stream):
    server = model_server(garbage("<html>oops</html>"))

    with pytest.raises(MalformedReply):
        make_model(anthropic_config(server, stream=stream)).query(HELLO)


def test_a_refusal_is_a_model_error_with_the_servers_words(model_server):
    server = model_server(http_error(404, "model: claude-nonexistent"))

    with pytest.raises(ModelError, match="answered 404: model: claude-nonexistent"):
        make_model(anthropic_config(server)).query(HELLO)


def test_the_api_key_travels_only_in_its_header(model_server, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-from-the-environment")
    server = model_server(text("ok"))

    make_model(anthropic_config(server)).query(HELLO)

    request = server.requests[0]
    key_headers = {k for k, v in request.headers.items() if API_KEY in v}
    assert key_headers and key_headers <= {"authorization", "x-api-key"}
    assert API_KEY not in request.raw
    assert "from-the-environment" not in json.dumps(dict(request.headers))
