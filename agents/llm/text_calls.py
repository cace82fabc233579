"""Tool calls read out of plain text, for models that cannot (or will not) call tools.

Three shapes are understood, in this order:

1. ``<tool_call>{"name": ..., "arguments": {...}}</tool_call>`` (Hermes, Qwen and
   friends when the server does not parse their tool syntax);
2. a reply that is nothing but such a JSON object;
3. the text protocol: exactly one fenced shell block per reply, run with
   ``bash``; a block whose first line is ``submit`` submits, the rest of the
   block being the summary.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from agents.llm.base import ToolCall

SHELL_LANGUAGES = frozenset({"", "bash", "sh", "shell", "console", "zsh"})

_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.DOTALL)
_FENCE = re.compile(r"```([\w+-]*)[ \t]*\n(.*?)```", re.DOTALL)


@dataclass
class TextCalls:
    calls: list[ToolCall] = field(default_factory=list)
    error: str | None = None
    """Why the text looked like an action but could not be read as one."""


def _named_call(obj: object) -> ToolCall | None:
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        return None
    args = obj.get("arguments", obj.get("parameters", {}))
    return ToolCall(name=obj["name"], arguments=args if isinstance(args, str) else json.dumps(args))


def _json_object(text: str) -> object:
    text = text.strip()
    fenced = re.fullmatch(r"```(?:json)?\s*\n(.*?)```", text, re.DOTALL)
    if fenced:
        text = fenced.group(1).strip()
    if not text.startswith("{"):
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


def read_text_calls(content: str) -> TextCalls:
    tagged = _TAGGED.findall(content)
    if tagged:
        calls = []
        for body in tagged:
            call = _named_call(_json_object(body))
            if call is None:
                return TextCalls(
                    error="a <tool_call> block does not hold a JSON object with a name and arguments"
                )
            calls.append(call)
        return TextCalls(calls)

    whole = _named_call(_json_object(content))
    if whole is not None:
        return TextCalls([whole])

    blocks = [body for lang, body in _FENCE.findall(content) if lang.lower() in SHELL_LANGUAGES]
    if not blocks:
        return TextCalls()
    if len(blocks) > 1:
        return TextCalls(error=f"the reply has {len(blocks)} shell blocks; send exactly one per reply")
    command = blocks[0].strip("\n")
    first, _, rest = command.strip().partition("\n")
    if first.strip() == "submit":
        return TextCalls([ToolCall(name="submit", arguments=json.dumps({"summary": rest.strip()}))])
    return TextCalls([ToolCall(name="bash", arguments=json.dumps({"command": command}))])
