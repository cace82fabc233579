"""What the scripted model says: a queue of steps, each one reply to one request.

Build steps in Python with the helpers (``text``, ``tool``, ``calls``,
``submit``, ``garbage``, ``http_error``, ``hang``, ``Dynamic``) or load them
from JSON (``load_script``), the format the standalone server and the
``POST /_script`` endpoint take::

    {
      "when_exhausted": "submit",            # or "error" (the default)
      "replies": [
        {"text": "1. Read the failing test. 2. Fix the bug."},
        {"tool": "bash", "arguments": {"command": "pytest -q"}},
        {"tool_calls": [{"name": "view_file", "arguments": {"path": "calc.py"}}], "content": "Looking."},
        {"status": 429, "headers": {"Retry-After": "1"}, "message": "slow down"},
        {"hang": 5, "then": {"text": "late"}},
        {"garbage": "<html>502 Bad Gateway</html>"},
        {"submit": "Fixed the off-by-one in add()."}
      ]
    }

Any reply may carry ``prompt_tokens`` and ``completion_tokens`` to override
the usage the server reports (by default a length-based estimate).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Exhausted = Literal["error", "submit"]

SCRIPTS = Path(__file__).resolve().parent / "scripts"
"""Ready-made scripts: ``fix_calc.json`` fixes the demo repository's failing ``test_add``."""


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received, as it arrived."""

    method: str
    path: str
    headers: Mapping[str, str]
    """Header names in lower case."""
    raw: str
    body: Any
    """The JSON body, or None when it was not JSON."""

    @property
    def protocol(self) -> Literal["openai", "anthropic", "other"]:
        if self.path.endswith("/chat/completions"):
            return "openai"
        if self.path.endswith("/messages"):
            return "anthropic"
        return "other"

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", [])) if isinstance(self.body, dict) else []

    @property
    def tools(self) -> list[dict[str, Any]]:
        return list(self.body.get("tools") or []) if isinstance(self.body, dict) else []

    @property
    def stream(self) -> bool:
        return bool(isinstance(self.body, dict) and self.body.get("stream"))

    @property
    def text(self) -> str:
        """Everything the model was shown, flattened: handy for ``in`` assertions."""
        return (
            json.dumps(self.body.get("system", "")) + json.dumps(self.messages)
            if isinstance(self.body, dict)
            else ""
        )

    @property
    def last_message(self) -> dict[str, Any]:
        return self.messages[-1] if self.messages else {}


@dataclass(frozen=True)
class Call:
    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    """A dict is sent as JSON; a string is sent as it is (so it can be broken JSON)."""
    id: str | None = None

    def arguments_json(self) -> str:
        return self.arguments if isinstance(self.arguments, str) else json.dumps(dict(self.arguments))


@dataclass(frozen=True)
class Reply:
    content: str = ""
    calls: tuple[Call, ...] = ()
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None


@dataclass(frozen=True)
class Raw:
    """A body sent as it is: garbage, half a JSON document, an HTML error page."""

    body: str
    status: int = 200
    content_type: str = "application/json"


@dataclass(frozen=True)
class HttpError:
    status: int
    message: str = "scripted error"
    headers: Mapping[str, str] = field(default_factory=dict)
    code: str | None = None


@dataclass(frozen=True)
class Hang:
    """Say nothing for ``seconds`` (the client should time out), then answer ``then`` or hang up."""

    seconds: float
    then: Step | None = None


@dataclass(frozen=True)
class Dynamic:
    """Decide the reply from the request: a scripted "agent" that reads what it is shown."""

    decide: Callable[[RecordedRequest], Step]


Step = Reply | Raw | HttpError | Hang | Dynamic


def text(content: str, *, prompt_tokens: int | None = None, completion_tokens: int | None = None) -> Reply:
    return Reply(content=content, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)


def tool(name: str, arguments: Mapping[str, Any] | str | None = None, /, **kwargs: Any) -> Reply:
    """One tool call: ``tool("bash", command="ls")``, ``tool("x", {"name": "y"})`` or ``tool("x", '{"broken": ')``."""
    return Reply(calls=(Call(name, arguments if arguments is not None else kwargs),))


def calls(
    *items: Call, content: str = "", prompt_tokens: int | None = None, completion_tokens: int | None = None
) -> Reply:
    return Reply(
        content=content, calls=items, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
    )


def submit(summary: str = "Done.") -> Reply:
    return tool("submit", summary=summary)


def garbage(body: str = "this is not JSON {", status: int = 200) -> Raw:
    return Raw(body=body, status=status)


def http_error(
    status: int, message: str = "scripted error", *, retry_after: float | None = None
) -> HttpError:
    headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
    return HttpError(status=status, message=message, headers=headers)


def hang(seconds: float, then: Step | None = None) -> Hang:
    return Hang(seconds=seconds, then=then)


def _reply(obj: Mapping[str, Any], content: str, items: tuple[Call, ...] = ()) -> Reply:
    prompt, completion = obj.get("prompt_tokens"), obj.get("completion_tokens")
    return Reply(
        content=content,
        calls=items,
        prompt_tokens=None if prompt is None else int(prompt),
        completion_tokens=None if completion is None else int(completion),
    )


def step_from_json(obj: Mapping[str, Any]) -> Step:
    if "text" in obj:
        return _reply(obj, str(obj["text"]))
    if "tool" in obj:
        return _reply(obj, obj.get("content", ""), (Call(obj["tool"], obj.get("arguments", {})),))
    if "tool_calls" in obj:
        items = tuple(Call(c["name"], c.get("arguments", {}), c.get("id")) for c in obj["tool_calls"])
        return _reply(obj, obj.get("content", ""), items)
    if "submit" in obj:
        return _reply(obj, "", (Call("submit", {"summary": str(obj["submit"])}),))
    if "garbage" in obj:
        return Raw(body=str(obj["garbage"]), status=int(obj.get("status", 200)))
    if "status" in obj:
        headers = dict(obj.get("headers", {}))
        return HttpError(int(obj["status"]), obj.get("message", "scripted error"), headers, obj.get("code"))
    if "hang" in obj:
        return Hang(float(obj["hang"]), step_from_json(obj["then"]) if obj.get("then") else None)
    raise ValueError(
        f"a script step needs one of text, tool, tool_calls, submit, garbage, status, hang: {dict(obj)}"
    )


@dataclass(frozen=True)
class Script:
    replies: tuple[Step, ...]
    """One step per model request, in order (the JSON's ``replies``)."""
    when_exhausted: Exhausted = "error"


def load_script(source: Mapping[str, Any] | list[Any] | str | Path) -> Script:
    """A script from a parsed JSON document, or from a path to one. A bare list is the replies."""
    data = json.loads(Path(source).read_text()) if isinstance(source, str | Path) else source
    if isinstance(data, list):
        data = {"replies": data}
    when = data.get("when_exhausted", "error")
    if when not in ("error", "submit"):
        raise ValueError(f"when_exhausted must be 'error' or 'submit', not {when!r}")
    return Script(tuple(step_from_json(step) for step in data.get("replies", [])), when)
