"""Test support shared by every test suite and the benchmarks.

``ModelServer`` is the scripted model: a real HTTP server speaking the
OpenAI-compatible and Anthropic protocols. Script it with the step helpers
re-exported here.
"""

from typing import TYPE_CHECKING, Any

from tests.support.script import (
    SCRIPTS,
    Call,
    Dynamic,
    Hang,
    HttpError,
    Raw,
    RecordedRequest,
    Reply,
    Script,
    Step,
    calls,
    garbage,
    hang,
    http_error,
    load_script,
    step_from_json,
    submit,
    text,
    tool,
)

if TYPE_CHECKING:
    from tests.support.model_server import ModelServer, Quirks


def __getattr__(name: str) -> Any:
    # Imported on first use, so `python -m tests.support.model_server` does not find its own
    # module already loaded by this package (runpy warns about that).
    if name in ("ModelServer", "Quirks"):
        from tests.support import model_server

        return getattr(model_server, name)
    raise AttributeError(name)


__all__ = [
    "SCRIPTS",
    "Call",
    "Dynamic",
    "Hang",
    "HttpError",
    "ModelServer",
    "Quirks",
    "Raw",
    "RecordedRequest",
    "Reply",
    "Script",
    "Step",
    "calls",
    "garbage",
    "hang",
    "http_error",
    "load_script",
    "step_from_json",
    "submit",
    "text",
    "tool",
]
