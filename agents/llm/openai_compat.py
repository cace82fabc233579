"""A client for any OpenAI-compatible chat completions server, through the ``openai`` SDK.

Real servers differ, so the client adapts instead of failing: one that
rejects ``content: null`` on an assistant message gets ``""``; one that
rejects ``stream_options`` gets none (usage is then estimated); one that
rejects tool definitions raises ``ToolsUnsupported`` so the loop can switch
to the text protocol. Each adaptation is sticky for the client's lifetime.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import httpx2
import openai

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
    estimate_tokens,
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

# Parse failures of a reply the server did send: garbage, not an outage.
_PARSE_ERRORS = (ValueError, TypeError, AttributeError, KeyError, IndexError)


class OpenAICompatModel(ToolModeSwitch):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        self._null_content_as_empty = False
        self._send_stream_options = True
        # Optional fields a server refused (reasoning models refuse temperature, newer OpenAI
        # models refuse max_tokens for max_completion_tokens): left out from then on.
        self._refused: set[str] = set()
        # A placeholder key keeps the SDK from reading OPENAI_API_KEY from the environment:
        # only the configured key is ever sent.
        self._client = openai.OpenAI(
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
        sent_tools = list(tools) if self._tool_mode == "native" else []
        while True:
            try:
                reply, attempts = with_retries(
                    lambda: self._attempt(messages, sent_tools, on_delta),
                    config=self.config,
                    classify=self._classify,
                    on_status=on_status,
                )
            except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
                if self._adapt(exc, messages, sent_tools):
                    continue
                raise self._refusal(exc, sent_tools) from exc
            reply.duration = time.monotonic() - started
            reply.attempts = attempts
            return reply

    # -- one attempt --------------------------------------------------------

    def _params(self, messages: Sequence[Message], tools: list[ToolSpec]) -> dict[str, Any]:
        wire = [dict(m) for m in messages]
        if self._null_content_as_empty:
            for message in wire:
                if message.get("content") is None:
                    message["content"] = ""
        params: dict[str, Any] = {"model": self.config.model, "messages": wire}
        if tools:
            params["tools"] = [tool.openai() for tool in tools]
        optional = {
            "temperature": self.config.temperature,
            "seed": self.config.seed,
            "max_tokens": self.config.max_output_tokens or None,
        }
        if "max_tokens" in self._refused:
            optional["max_completion_tokens"] = optional.pop("max_tokens")
        params.update({k: v for k, v in optional.items() if v is not None and k not in self._refused})
        return params

    def _attempt(
        self, messages: Sequence[Message], tools: list[ToolSpec], on_delta: DeltaCallback | None
    ) -> ModelReply:
        params = self._params(messages, tools)
        if self.config.stream:
            return self._streamed(params, on_delta)
        try:
            response = self._client.chat.completions.create(**_sdk_arguments(params))
        except _PARSE_ERRORS as exc:
            raise MalformedReply(f"the server's reply is not JSON ({exc})") from exc
        try:
            choice = response.choices[0]
            content = choice.message.content or ""
            calls = [
                ToolCall(
                    name=tc.function.name or "",
                    arguments=_json_text(tc.function.arguments),
                    id=tc.id or f"call_{n}",
                )
                for n, tc in enumerate(choice.message.tool_calls or [])
            ]
            usage = self._usage(response.usage, params, content, calls)
            finish = choice.finish_reason
        except _PARSE_ERRORS as exc:
            raise MalformedReply(
                f"the server's reply is not a chat completion: {str(response)[:200]}"
            ) from exc
        if content and on_delta is not None:
            on_delta(content)
        return assistant_reply(content, calls, usage, finish)

    def _streamed(self, params: dict[str, Any], on_delta: DeltaCallback | None) -> ModelReply:
        if self._send_stream_options:
            params["stream_options"] = {"include_usage": True}
        content: list[str] = []
        slots: dict[int, dict[str, str]] = {}
        finish: str | None = None
        server_usage: Any = None
        chunks = 0
        stream = self._client.chat.completions.create(**_sdk_arguments(params), stream=True)
        try:
            with stream:
                for chunk in stream:
                    chunks += 1
                    if getattr(chunk, "usage", None) is not None:
                        server_usage = chunk.usage
                    for choice in chunk.choices or []:
                        delta = choice.delta
                        if delta is None:
                            continue
                        if delta.content:
                            content.append(delta.content)
                            if on_delta is not None:
                                on_delta(delta.content)
                        for part in delta.tool_calls or []:
                            index = part.index if part.index is not None else len(slots)
                            slot = slots.setdefault(index, {"id": "", "name": "", "arguments": ""})
                            slot["id"] = slot["id"] or (part.id or "")
                            if part.function is not None:
                                slot["name"] = slot["name"] or (part.function.name or "")
                                slot["arguments"] += _json_text(part.function.arguments)
                        finish = choice.finish_reason or finish
        except (openai.APIError, httpx2.HTTPError):
            raise
        except _PARSE_ERRORS as exc:
            raise MalformedReply(f"the server's stream is not a chat completion stream ({exc})") from exc
        if chunks == 0:
            raise MalformedReply("the server's stream held no completion chunks")
        calls = [
            ToolCall(name=slot["name"], arguments=slot["arguments"], id=slot["id"] or f"call_{index}")
            for index, slot in sorted(slots.items())
        ]
        text = "".join(content)
        return assistant_reply(text, calls, self._usage(server_usage, params, text, calls), finish)

    def _usage(self, usage: Any, params: dict[str, Any], content: str, calls: list[ToolCall]) -> Usage:
        if usage is None or getattr(usage, "prompt_tokens", None) is None:
            guessed = Usage(
                prompt_tokens=estimate_tokens(
                    json.dumps(params["messages"]) + json.dumps(params.get("tools", []))
                ),
                completion_tokens=estimate_tokens(content + "".join(c.name + c.arguments for c in calls)),
                estimated=True,
            )
            return price(guessed, self.config)
        details = getattr(usage, "prompt_tokens_details", None)
        counted = Usage(
            prompt_tokens=int(usage.prompt_tokens or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            cached_tokens=int(getattr(details, "cached_tokens", 0) or 0),
        )
        return price(counted, self.config, getattr(usage, "cost", None))

    # -- failures -----------------------------------------------------------

    def _where(self) -> str:
        return self.config.base_url or "the OpenAI API"

    def _classify(self, exc: Exception) -> Failure | None:
        if isinstance(exc, openai.APITimeoutError | httpx2.TimeoutException):
            return Failure(f"no answer from {self._where()} within {self.config.request_timeout:g} s", True)
        if isinstance(exc, openai.APIConnectionError | httpx2.TransportError):
            return Failure(f"cannot reach the model server at {self._where()} ({exc})", True)
        if isinstance(exc, openai.BadRequestError | openai.UnprocessableEntityError):
            return None
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            headers = exc.response.headers
            retry_after = parse_retry_after(headers.get("retry-after"))
            if retry_after is None and headers.get("retry-after-ms"):
                retry_after = (parse_retry_after(headers.get("retry-after-ms")) or 0) / 1000
            detail = error_detail(exc.body, exc.message)
            return Failure(
                f"{self._where()} answered {status}: {detail}", status in RETRYABLE_STATUS, retry_after
            )
        if isinstance(exc, openai.APIError):
            return Failure(f"{self._where()} failed mid-reply: {exc.message}", True)
        return None

    def _adapt(self, exc: openai.APIStatusError, messages: Sequence[Message], tools: list[ToolSpec]) -> bool:
        """Switch off what this server rejected; True when a retry makes sense."""
        text = error_detail(exc.body, exc.message).lower()
        if is_context_overflow(text):
            return False
        if "stream_options" in text and self._send_stream_options:
            self._send_stream_options = False
            return True
        sent = self._params([], [])
        for field in ("max_tokens", "max_completion_tokens", "temperature", "seed"):
            if field in sent and field in text:
                self._refused.add(field)
                return True
        has_null = any(m.get("role") == "assistant" and m.get("content") is None for m in messages)
        if has_null and "content" in text and not self._null_content_as_empty:
            self._null_content_as_empty = True
            return True
        return False

    def _refusal(self, exc: openai.APIStatusError, tools: list[ToolSpec]) -> ModelError:
        detail = error_detail(exc.body, exc.message)
        message = f"{self._where()} refused the request ({exc.status_code}): {detail}"
        if is_context_overflow(detail):
            return ContextOverflow(message)
        if tools and ("tool" in detail.lower() or "function" in detail.lower()):
            return ToolsUnsupported(message)
        return ModelError(message)


def _sdk_arguments(body: dict[str, Any]) -> dict[str, Any]:
    """The request for the SDK, with the body passed through untouched.

    The SDK walks every message through its type transforms on every call, about 0.2 ms a
    message: late in a long run that is 25 ms a step, a hundred times the loop's own cost.
    The body is plain JSON already, so it rides in ``extra_body`` (which the SDK merges over
    its own fields); the empty ``messages`` only satisfies the signature.
    """
    return {
        "model": body["model"],
        "messages": [],
        "extra_body": {k: v for k, v in body.items() if k != "model"},
    }


def _json_text(arguments: object) -> str:
    """Tool arguments as JSON text: some servers send an object where the protocol says a string."""
    if arguments is None:
        return ""
    return arguments if isinstance(arguments, str) else json.dumps(arguments)
