"""A run record (``agents.trajectory``) in the shapes training and evaluation tools read.

One JSON object per line in each format:

``openai`` (OpenAI chat fine-tuning)::

    {"messages": [...], "tools": [...], "parallel_tool_calls": false, "reward": {...}, "metadata": {...}}

  Messages are ``system``, ``user``, ``assistant`` (with ``tool_calls``, whose
  ``function.arguments`` is a JSON *string*) and ``tool`` (with ``tool_call_id``).

``trl`` (Hugging Face conversational, as TRL's SFT and GRPO trainers and chat templates take it)::

    {"messages": [...], "tools": [...], "reward": {...}, "metadata": {...}}

  The same conversation with each call's ``function.arguments`` as a JSON
  *object*, ``content`` always a string, and ``name`` on every ``tool`` message.

``swebench`` (predictions for the SWE-bench harness)::

    {"instance_id": "...", "model_name_or_path": "...", "model_patch": "...", "reward": {...}, "metadata": {...}}

``reward`` and ``metadata`` (which run, intent, project, model, when, how it
ended) trace every line back to its run; tools that read these formats ignore
extra keys, except OpenAI's fine-tuning upload, which wants only its own: export
with ``extras=False`` for a file to upload as it is.

In the chat formats, the messages after the last assistant message (the result
of the final ``submit``) are left out: they teach nothing. A run whose
assistant wrote arguments that are not a JSON object cannot be put in the
``trl`` shape and is skipped (``Skip`` says why); the ``openai`` shape keeps
the arguments exactly as written.
"""

from __future__ import annotations

import json
from typing import Any, Literal

Format = Literal["openai", "trl", "swebench"]
FORMATS: dict[str, str] = {
    "openai": "OpenAI fine-tuning JSONL",
    "trl": "Hugging Face conversational JSONL (TRL)",
    "swebench": "SWE-bench predictions",
}
_MESSAGE_KEYS = ("role", "content", "tool_calls", "tool_call_id", "name")


class Skip(Exception):
    """This run cannot be written in the chosen format; the message says why."""


def openai_record(record: dict[str, Any], *, extras: dict[str, Any] | None = None) -> dict[str, Any]:
    """One OpenAI fine-tuning line from a run record (``Trajectory.to_record()``)."""
    messages = [_openai_message(m) for m in _trained_messages(record)]
    line: dict[str, Any] = {"messages": messages, "tools": list(record.get("tools") or [])}
    if line["tools"]:
        line["parallel_tool_calls"] = _parallel(messages)
    return line | (extras or {})


def trl_record(record: dict[str, Any], *, extras: dict[str, Any] | None = None) -> dict[str, Any]:
    """One conversational line for TRL from a run record; ``Skip`` when a call's arguments are not an object."""
    names: dict[str, str] = {}
    messages = []
    for message in _trained_messages(record):
        out = _openai_message(message)
        if out.get("content") is None:
            out["content"] = ""
        if out.get("tool_calls"):
            out["tool_calls"] = [_trl_call(call) for call in out["tool_calls"]]
            names |= {c["id"]: c["function"]["name"] for c in out["tool_calls"] if c.get("id")}
        if out["role"] == "tool" and "name" not in out and out.get("tool_call_id") in names:
            out["name"] = names[out["tool_call_id"]]
        messages.append(out)
    return {"messages": messages, "tools": list(record.get("tools") or [])} | (extras or {})


def swebench_prediction(
    instance_id: str, model_name_or_path: str, patch: str, *, extras: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {"instance_id": instance_id, "model_name_or_path": model_name_or_path, "model_patch": patch} | (
        extras or {}
    )


def trl_to_openai_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The inverse of the ``trl`` shape's messages: arguments back to JSON strings (for round trips)."""
    out = []
    for message in messages:
        copy = dict(message)
        if copy.get("tool_calls"):
            copy["tool_calls"] = [
                {
                    **call,
                    "function": {**call["function"], "arguments": json.dumps(call["function"]["arguments"])},
                }
                for call in copy["tool_calls"]
            ]
        out.append(copy)
    return out


def tool_calls(messages: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    """(name, arguments as an object) of every call in ``messages``, whichever shape: for comparing files."""
    found = []
    for message in messages:
        for call in message.get("tool_calls") or ():
            arguments = call["function"]["arguments"]
            found.append(
                (call["function"]["name"], json.loads(arguments) if isinstance(arguments, str) else arguments)
            )
    return found


def _trained_messages(record: dict[str, Any]) -> list[dict[str, Any]]:
    messages = list(record.get("messages") or [])
    last = max((n for n, m in enumerate(messages) if m.get("role") == "assistant"), default=None)
    if last is None:
        raise Skip("the run has no assistant message")
    return messages[: last + 1]


def _openai_message(message: dict[str, Any]) -> dict[str, Any]:
    out = {k: message[k] for k in _MESSAGE_KEYS if k in message}
    if out.get("role") == "assistant" and out.get("tool_calls"):
        out["tool_calls"] = [
            {
                "id": call.get("id"),
                "type": "function",
                "function": {
                    "name": call["function"]["name"],
                    "arguments": _as_text(call["function"].get("arguments")),
                },
            }
            for call in out["tool_calls"]
        ]
        if not out.get("content"):
            out.pop("content", None)  # "content": null next to calls is refused by some validators
    elif "content" in out and not isinstance(out["content"], str | list):
        out["content"] = "" if out["content"] is None else str(out["content"])
    return out


def _as_text(arguments: Any) -> str:
    if isinstance(arguments, str):
        return arguments
    return json.dumps(arguments if arguments is not None else {}, ensure_ascii=False)


def _trl_call(call: dict[str, Any]) -> dict[str, Any]:
    text = call["function"]["arguments"]
    try:
        arguments = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError:
        raise Skip(f"a call to {call['function']['name']} has arguments that are not JSON") from None
    if not isinstance(arguments, dict):
        raise Skip(f"a call to {call['function']['name']} has arguments that are not a JSON object")
    return {
        "id": call.get("id"),
        "type": "function",
        "function": {"name": call["function"]["name"], "arguments": arguments},
    }


def _parallel(messages: list[dict[str, Any]]) -> bool:
    return any(len(m.get("tool_calls") or ()) > 1 for m in messages)
