"""How a scripted reply looks on the wire, in the OpenAI and the Anthropic protocols.

Streams are split the way real servers split them: content a few
characters at a time, each tool call announced (id and name) and then its
arguments in several pieces, the finish reason in a chunk of its own, and
(OpenAI, when ``stream_options.include_usage``) the usage in a last chunk
with no choices.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from tests.support.script import Reply


def pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] if text else []


def call_id(reply_number: int, index: int, given: str | None) -> str:
    return given or f"call_{reply_number}_{index}"


# -- OpenAI chat completions ---------------------------------------------------


def openai_usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def openai_finish(reply: Reply) -> str:
    return reply.finish_reason or ("tool_calls" if reply.calls else "stop")


def openai_completion(
    reply: Reply, *, model: str, number: int, usage: dict[str, int] | None
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.content or None}
    if reply.calls:
        message["tool_calls"] = [
            {
                "id": call_id(number, i, c.id),
                "type": "function",
                "function": {"name": c.name, "arguments": c.arguments_json()},
            }
            for i, c in enumerate(reply.calls)
        ]
    body: dict[str, Any] = {
        "id": f"chatcmpl-{number}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": openai_finish(reply)}],
    }
    if usage is not None:
        body["usage"] = usage
    return body


def openai_chunks(
    reply: Reply, *, model: str, number: int, usage: dict[str, int] | None, size: int
) -> Iterator[dict[str, Any]]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-{number}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    yield chunk({"role": "assistant", "content": ""})
    for piece in pieces(reply.content, size):
        yield chunk({"content": piece})
    for i, c in enumerate(reply.calls):
        head = {
            "index": i,
            "id": call_id(number, i, c.id),
            "type": "function",
            "function": {"name": c.name, "arguments": ""},
        }
        yield chunk({"tool_calls": [head]})
        for piece in pieces(c.arguments_json(), size):
            yield chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]})
    yield chunk({}, openai_finish(reply))
    if usage is not None:
        yield {
            "id": f"chatcmpl-{number}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "choices": [],
            "usage": usage,
        }


def openai_error(status: int, message: str, code: str | None = None) -> dict[str, Any]:
    kinds = {
        400: "invalid_request_error",
        401: "authentication_error",
        404: "not_found_error",
        429: "rate_limit_error",
    }
    return {
        "error": {"message": message, "type": kinds.get(status, "server_error"), "param": None, "code": code}
    }


# -- Anthropic messages --------------------------------------------------------


def anthropic_stop(reply: Reply) -> str:
    return reply.finish_reason or ("tool_use" if reply.calls else "end_turn")


def _tool_input(arguments: str) -> Any:
    try:
        return json.loads(arguments)
    except json.JSONDecodeError:
        return arguments


def anthropic_message(
    reply: Reply, *, model: str, number: int, prompt: int, completion: int
) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": reply.content}] if reply.content else []
    content += [
        {
            "type": "tool_use",
            "id": call_id(number, i, c.id),
            "name": c.name,
            "input": _tool_input(c.arguments_json()),
        }
        for i, c in enumerate(reply.calls)
    ]
    return {
        "id": f"msg_{number}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": anthropic_stop(reply),
        "stop_sequence": None,
        "usage": {"input_tokens": prompt, "output_tokens": completion},
    }


def anthropic_events(
    reply: Reply, *, model: str, number: int, prompt: int, completion: int, size: int
) -> Iterator[tuple[str, dict[str, Any]]]:
    start = anthropic_message(Reply(), model=model, number=number, prompt=prompt, completion=1)
    start["content"], start["stop_reason"] = [], None
    yield "message_start", {"type": "message_start", "message": start}
    index = 0
    if reply.content:
        yield (
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}},
        )
        for piece in pieces(reply.content, size):
            delta = {"type": "text_delta", "text": piece}
            yield "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
        index += 1
    for i, c in enumerate(reply.calls):
        block = {"type": "tool_use", "id": call_id(number, i, c.id), "name": c.name, "input": {}}
        yield "content_block_start", {"type": "content_block_start", "index": index, "content_block": block}
        for piece in pieces(c.arguments_json(), size):
            delta = {"type": "input_json_delta", "partial_json": piece}
            yield "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
        index += 1
    yield (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": anthropic_stop(reply), "stop_sequence": None},
            "usage": {"output_tokens": completion},
        },
    )
    yield "message_stop", {"type": "message_stop"}


def anthropic_error(status: int, message: str) -> dict[str, Any]:
    kinds = {
        400: "invalid_request_error",
        401: "authentication_error",
        404: "not_found_error",
        429: "rate_limit_error",
        529: "overloaded_error",
    }
    return {"type": "error", "error": {"type": kinds.get(status, "api_error"), "message": message}}
