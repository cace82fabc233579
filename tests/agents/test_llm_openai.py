"""The OpenAI-compatible client against the scripted server: streaming, usage, retries, quirks."""

from __future__ import annotations

import json
import time

import pytest

from agents.llm import MalformedReply, ToolSpec, make_model
from agents.outcomes import ContextOverflow, ModelError, ToolsUnsupported
from tests.agents.conftest import API_KEY, openai_config
from tests.support import Call, Quirks, calls, garbage, hang, http_error, text, tool

BASH = ToolSpec(
    "bash",
    "run a command",
    {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]},
)
HELLO = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}]


def test_a_streamed_reply_surfaces_each_delta_and_takes_usage_from_the_last_chunk(model_server):
    server = model_server(text("The quick brown fox", prompt_tokens=120, completion_tokens=5), chunk_size=4)
    deltas: list[str] = []

    reply = make_model(openai_config(server)).query(HELLO, tools=[BASH], on_delta=deltas.append)

    assert deltas == ["The ", "quic", "k br", "own ", "fox"]
    assert reply.content == "The quick brown fox"
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens, reply.usage.estimated) == (
        120,
        5,
        False,
    )
    assert server.requests[0].body["stream_options"] == {"include_usage": True}


def test_tool_call_arguments_split_across_chunks_are_joined(model_server):
    server = model_server(
        calls(
            Call("bash", {"command": "ls -la /workspace"}),
            Call("bash", {"command": "pwd"}),
            content="Looking.",
        ),
        chunk_size=3,
    )

    reply = make_model(openai_config(server)).query(HELLO, tools=[BASH])

    assert [(c.name, json.loads(c.arguments)) for c in reply.tool_calls] == [
        ("bash", {"command": "ls -la /workspace"}),
        ("bash", {"command": "pwd"}),
    ]
    assert reply.content == "Looking."
    assert reply.message["tool_calls"][1]["function"]["arguments"] == '{"command": "pwd"}'
    assert server.requests[0].tools == [BASH.openai()]


def test_a_non_streamed_reply_reads_the_same(model_server):
    server = model_server(tool("bash", command="pwd"), text("done"))
    model = make_model(openai_config(server, stream=False))

    first = model.query(HELLO, tools=[BASH])
    second = model.query(HELLO, tools=[BASH])

    assert first.tool_calls[0].name == "bash" and first.message["content"] is None
    assert second.content == "done"
    assert server.requests[0].stream is False


def test_cost_is_priced_from_the_reported_usage(model_server):
    server = model_server(text("ok", prompt_tokens=1000, completion_tokens=100))
    config = openai_config(server, input_cost_per_token=2e-6, output_cost_per_token=8e-6)

    reply = make_model(config).query(HELLO)

    assert reply.usage.cost == pytest.approx(1000 * 2e-6 + 100 * 8e-6)


def test_a_429_is_retried_after_the_wait_retry_after_asks_for(model_server):
    server = model_server(http_error(429, "slow down", retry_after=0.3), text("made it"))
    statuses: list[str] = []

    started = time.monotonic()
    reply = make_model(openai_config(server)).query(HELLO, on_status=statuses.append)

    assert reply.content == "made it" and reply.attempts == 2
    assert time.monotonic() - started >= 0.3
    assert "429" in statuses[0] and "retrying in 0.3 s" in statuses[0]


def test_a_retry_after_longer_than_the_cap_ends_with_a_clear_reason(model_server):
    server = model_server(http_error(429, "quota", retry_after=3600))

    with pytest.raises(ModelError, match="asked to wait 3600 s, longer than retry_max_wait"):
        make_model(openai_config(server, retry_max_wait=5)).query(HELLO)


def test_server_errors_are_retried_until_the_retries_are_spent(model_server):
    server = model_server(
        http_error(503, "overloaded"), http_error(500, "boom"), http_error(502, "bad gateway")
    )

    with pytest.raises(ModelError, match=r"answered 502: bad gateway \(gave up after 3 attempts\)"):
        make_model(openai_config(server, max_retries=2)).query(HELLO)
    assert len(server.requests) == 3


def test_a_hanging_request_times_out_and_the_retry_succeeds(model_server):
    server = model_server(hang(5), text("awake"))
    statuses: list[str] = []

    started = time.monotonic()
    reply = make_model(openai_config(server, request_timeout=0.5)).query(HELLO, on_status=statuses.append)

    assert reply.content == "awake"
    assert 0.5 <= time.monotonic() - started < 3
    assert "no answer" in statuses[0] and "within 0.5 s" in statuses[0]


def test_a_server_that_keeps_hanging_ends_with_a_clear_reason(model_server):
    server = model_server(hang(5), hang(5))

    with pytest.raises(ModelError, match=r"no answer from .* within 0.5 s \(gave up after 2 attempts\)"):
        make_model(openai_config(server, request_timeout=0.5, max_retries=1)).query(HELLO)


def test_client_errors_are_not_retried(model_server):
    server = model_server(http_error(401, "invalid api key"))

    with pytest.raises(ModelError, match="answered 401: invalid api key"):
        make_model(openai_config(server)).query(HELLO)
    assert len(server.requests) == 1


@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize(
    "body", ["this is not JSON {", "<html><body>502 Bad Gateway</body></html>", "data: {broken\n\n"]
)
def test_a_garbage_body_is_a_malformed_reply_not_a_crash(model_server, stream, body):
    server = model_server(garbage(body))

    with pytest.raises(MalformedReply):
        make_model(openai_config(server, stream=stream)).query(HELLO)


def test_a_server_rejecting_null_content_gets_an_empty_string_from_then_on(model_server):
    server = model_server(text("first"), text("second"), quirks=Quirks(reject_null_content=True))
    model = make_model(openai_config(server))
    history = [*HELLO, {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "bash", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "ok"}]  # fmt: skip

    assert model.query(history, tools=[BASH]).content == "first"
    assert model.query(history, tools=[BASH]).content == "second"

    sent = [r.messages[2]["content"] for r in server.requests]
    assert sent == [None, "", ""]


def test_a_server_rejecting_stream_options_streams_without_them_and_usage_is_estimated(model_server):
    server = model_server(text("estimated"), quirks=Quirks(reject_stream_options=True))

    reply = make_model(openai_config(server)).query(HELLO)

    assert reply.content == "estimated"
    assert reply.usage.estimated and reply.usage.prompt_tokens > 0 and reply.usage.completion_tokens > 0
    assert "stream_options" not in server.requests[-1].body


def test_a_server_without_usage_gets_an_estimate(model_server):
    server = model_server(text("no usage here"), quirks=Quirks(omit_usage=True))

    reply = make_model(openai_config(server, stream=False)).query(HELLO)

    assert reply.usage.estimated and reply.usage.completion_tokens == 3


def test_a_server_rejecting_tools_says_so(model_server):
    server = model_server(text("unused"), quirks=Quirks(reject_tools=True))
    model = make_model(openai_config(server))

    with pytest.raises(ToolsUnsupported, match="does not support tools"):
        model.query(HELLO, tools=[BASH])
    model.use_text_mode()
    assert model.query(HELLO, tools=[BASH]).content == "unused"
    assert server.requests[-1].tools == []


def test_a_context_overflow_is_recognised(model_server):
    server = model_server(text("unused"), quirks=Quirks(context_window=10))

    with pytest.raises(ContextOverflow, match="maximum context length is 10 tokens"):
        make_model(openai_config(server)).query(HELLO)


def test_an_unreachable_server_is_a_model_error(model_server):
    server = model_server()
    url = server.openai_base_url
    server.stop()

    with pytest.raises(ModelError, match="cannot reach the model server"):
        make_model(openai_config(server, base_url=url, max_retries=1)).query(HELLO)


def test_the_api_key_travels_in_the_authorization_header_and_nowhere_else(model_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment-never-used")
    server = model_server(text("ok"))

    make_model(openai_config(server)).query(HELLO)

    request = server.requests[0]
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    others = {k: v for k, v in request.headers.items() if k != "authorization"}
    assert API_KEY not in json.dumps(others) + request.raw
    assert "sk-from-the-environment" not in json.dumps(dict(request.headers))


def test_a_keyless_server_never_sees_a_key_from_the_environment(model_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment-never-used")
    server = model_server(text("ok"))

    make_model(openai_config(server, api_key="")).query(HELLO)

    assert "sk-from-the-environment" not in json.dumps(dict(server.requests[0].headers))


def test_temperature_seed_and_max_tokens_are_sent_when_set(model_server):
    server = model_server(text("ok"))

    make_model(openai_config(server, temperature=0.2, seed=7, max_output_tokens=64)).query(HELLO)

    body = server.requests[0].body
    assert (body["temperature"], body["seed"], body["max_tokens"], body["model"]) == (0.2, 7, 64, "scripted")


def test_tool_arguments_sent_as_an_object_instead_of_a_string_are_accepted(model_server):
    body = {
        "id": "x",
        "object": "chat.completion",
        "model": "m",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "c",
                            "type": "function",
                            "function": {"name": "bash", "arguments": {"command": "ls"}},
                        }
                    ],
                },
            }
        ],
    }
    server = model_server(garbage(json.dumps(body)))

    reply = make_model(openai_config(server, stream=False)).query(HELLO, tools=[BASH])

    assert json.loads(reply.tool_calls[0].arguments) == {"command": "ls"}


def test_optional_fields_a_server_refuses_are_left_out_from_then_on(model_server):
    server = model_server(
        http_error(
            400,
            "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
        ),
        http_error(400, "Unsupported value: 'temperature' does not support 0.0 with this model."),
        text("ok"),
        text("again"),
    )
    model = make_model(openai_config(server, max_output_tokens=100, temperature=0.0))

    assert model.query(HELLO).content == "ok"
    assert model.query(HELLO).content == "again"

    bodies = [r.body for r in server.requests]
    assert [("max_tokens" in b, "max_completion_tokens" in b, "temperature" in b) for b in bodies] == [
        (True, False, True),
        (False, True, True),
        (False, True, False),
        (False, True, False),
    ]
