"""A client for Anthropic's messages API, through the ``anthropic`` SDK.

The history stays in OpenAI chat format; ``to_anthropic`` translates it at
the edge (system apart, tool calls as ``tool_use`` blocks, tool results as
``tool_result`` blocks inside user turns, same-role turns merged).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import anthropic
import httpx2

from agents.config import ModelConfig
from agents.llm.base import (
    DeltaCallback,
    MalformedReply,
    Message,
    ModelReply,
    StatusCallback,
    ToolCall,
    ToolModeSwitch,
    ToolSpec,
    Usage,
    assistant_reply,
    price,
)
from agents.llm.retry import (
    RETRYABLE_STATUS,
    Failure,
    error_detail,
    is_context_overflow,
    parse_retry_after,
    with_retries,
)
from agents.outcomes import ContextOverflow, ModelError, ToolsUnsupported

DEFAULT_MAX_TOKENS = 8192
_PARSE_ERRORS = (ValueError, TypeError, AttributeError, KeyError, IndexError)


def to_anthropic(messages: Sequence[Message]) -> tuple[str, list[dict[str, Any]]]:
    """OpenAI chat messages to (system prompt, Anthropic messages)."""
    system: list[str] = []
    turns: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})

    for message in messages:
        role, content = message.get("role"), message.get("content")
        if role == "system":
            system.append(content or "")
        elif role == "tool":
            add(
                "user",
                [{"type": "tool_result", "tool_use_id": message["tool_call_id"], "content": content or ""}],
            )
        elif role == "assistant":
            blocks: list[dict[str, Any]] = [{"type": "text", "text": content}] if content else []
            for call in message.get("tool_calls") or []:
                try:
                    arguments = json.loads(call["function"]["arguments"] or "{}")
                except json.JSONDecodeError:
                    arguments = {}
                if not isinstance(arguments, dict):
                    arguments = {}
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": call["id"],
                        "name": call["function"]["name"],
                        "input": arguments,
                    }
                )
            # The API refuses an empty assistant turn; an empty reply still has to stay in the history.
            add("assistant", blocks or [{"type": "text", "text": "(empty reply)"}])
        else:
            add("user", [{"type": "text", "text": content or "(empty)"}])
    return "\n\n".join(system), turns


class AnthropicModel(ToolModeSwitch):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        # A placeholder keeps the SDK from looking for credentials in the environment or profile files.
        self._client = anthropic.Anthropic(
            api_key=config.api_key or "unused",
            base_url=config.base_url,
            timeout=config.request_timeout,
            max_retries=0,
        )

    def query(
        self,
        messages: Sequence[Message],
        *,
        tools: Sequence[ToolSpec] = (),
        on_delta: DeltaCallback | None = None,
        on_status: StatusCallback | None = None,
    ) -> ModelReply:
        started = time.monotonic()
        system, turns = to_anthropic(messages)
        params: dict[str, Any] = {
            "model": self.config.model,
            "max_tokens": self.config.max_output_tokens or DEFAULT_MAX_TOKENS,
            "messages": turns,
        }
        if system:
            params["system"] = system
        sent_tools = list(tools) if self._tool_mode == "native" else []
        if sent_tools:
            params["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters}
                for t in sent_tools
            ]
        if self.config.temperature is not None:
            params["temperature"] = (
                self.config.temperature
            )  # the 2.x SDK has no argument for it; the API takes it
        try:
            reply, attempts = with_retries(
                lambda: self._attempt(params, on_delta),
                config=self.config,
                classify=self._classify,
                on_status=on_status,
            )
        except (anthropic.BadRequestError, anthropic.UnprocessableEntityError) as exc:
            detail = error_detail(exc.body, exc.message)
            message = f"{self._where()} refused the request ({exc.status_code}): {detail}"
            if is_context_overflow(detail):
                raise ContextOverflow(message) from exc
            if sent_tools and "tool" in detail.lower():
                raise ToolsUnsupported(message) from exc
            raise ModelError(message) from exc
        reply.duration = time.monotonic() - started
        reply.attempts = attempts
        return reply

    def _attempt(self, params: dict[str, Any], on_delta: DeltaCallback | None) -> ModelReply:
        if not self.config.stream:
            try:
                response = self._client.messages.create(**_sdk_arguments(params))
            except _PARSE_ERRORS as exc:
                raise MalformedReply(f"the server's reply is not JSON ({exc})") from exc
            try:
                text = "".join(b.text for b in response.content if b.type == "text")
                calls = [
                    ToolCall(name=b.name, arguments=json.dumps(b.input), id=b.id)
                    for b in response.content
                    if b.type == "tool_use"
                ]
                usage = self._usage(response.usage, response.usage.output_tokens)
                stop = response.stop_reason
            except _PARSE_ERRORS as exc:
                raise MalformedReply(f"the server's reply is not a message: {str(response)[:200]}") from exc
            if text and on_delta is not None:
                on_delta(text)
            return assistant_reply(text, calls, usage, stop)
        return self._streamed(params, on_delta)

    def _streamed(self, params: dict[str, Any], on_delta: DeltaCallback | None) -> ModelReply:
        text: list[str] = []
        blocks: dict[int, dict[str, str]] = {}
        start_usage: Any = None
        output_tokens = 0
        stop: str | None = None
        try:
            with self._client.messages.create(**_sdk_arguments(params), stream=True) as stream:
                for event in stream:
                    kind = event.type
                    if kind == "message_start":
                        start_usage = event.message.usage
                        output_tokens = start_usage.output_tokens or 0
                    elif kind == "content_block_start" and event.content_block.type == "tool_use":
                        block = event.content_block
                        blocks[event.index] = {"id": block.id, "name": block.name, "arguments": ""}
                    elif kind == "content_block_delta":
                        delta = event.delta
                        if delta.type == "text_delta":
                            text.append(delta.text)
                            if on_delta is not None:
                                on_delta(delta.text)
                        elif delta.type == "input_json_delta" and event.index in blocks:
                            blocks[event.index]["arguments"] += delta.partial_json
                    elif kind == "message_delta":
                        stop = event.delta.stop_reason or stop
                        output_tokens = event.usage.output_tokens or output_tokens
        except _PARSE_ERRORS as exc:
            raise MalformedReply(f"the server's stream is not a messages stream ({exc})") from exc
        if start_usage is None:
            raise MalformedReply("the server's stream has no message_start event")
        calls = [
            ToolCall(name=b["name"], arguments=b["arguments"] or "{}", id=b["id"])
            for _, b in sorted(blocks.items())
        ]
        return assistant_reply("".join(text), calls, self._usage(start_usage, output_tokens), stop)

    def _usage(self, usage: Any, output_tokens: int) -> Usage:
        cached = int(getattr(usage, "cache_read_input_tokens", 0) or 0)
        created = int(getattr(usage, "cache_creation_input_tokens", 0) or 0)
        counted = Usage(
            prompt_tokens=int(usage.input_tokens or 0) + cached + created,
            completion_tokens=int(output_tokens or 0),
            cached_tokens=cached,
        )
        return price(counted, self.config)

    def _where(self) -> str:
        return self.config.base_url or "the Anthropic API"

    def _classify(self, exc: Exception) -> Failure | None:
        if isinstance(exc, anthropic.APITimeoutError | httpx2.TimeoutException):
            return Failure(f"no answer from {self._where()} within {self.config.request_timeout:g} s", True)
        if isinstance(exc, anthropic.APIConnectionError | httpx2.TransportError):
            return Failure(f"cannot reach the model server at {self._where()} ({exc})", True)
        if isinstance(exc, anthropic.BadRequestError | anthropic.UnprocessableEntityError):
            return None
        if isinstance(exc, anthropic.APIStatusError):
            status = exc.status_code
            retry_after = parse_retry_after(exc.response.headers.get("retry-after"))
            detail = error_detail(exc.body, exc.message)
            return Failure(
                f"{self._where()} answered {status}: {detail}", status in RETRYABLE_STATUS, retry_after
            )
        if isinstance(exc, anthropic.APIError):
            return Failure(f"{self._where()} failed mid-reply: {exc.message}", True)
        return None


def _sdk_arguments(body: dict[str, Any]) -> dict[str, Any]:
    """The request for the SDK, with the body passed through untouched.

    As with the OpenAI SDK, its per-call type transforms cost about 0.2 ms a message; the
    body is plain JSON already, so it rides in ``extra_body``, merged over the SDK's fields.
    """
    rest = {k: v for k, v in body.items() if k not in ("model", "max_tokens")}
    return {"model": body["model"], "max_tokens": body["max_tokens"], "messages": [], "extra_body": rest}
