"""A scripted model behind a real HTTP server, so tests run the real client code.

It speaks the OpenAI chat completions protocol (``/v1/chat/completions``,
streamed and not, tool-call deltas split across chunks, usage in the last
chunk) and Anthropic's messages protocol (``/v1/messages``, SSE and not),
plus ``/v1/models``. Each request takes the next step of a script (see
``tests.support.script``) and is recorded as it arrived.

In a test::

    with ModelServer(text("plan"), tool("bash", command="ls"), submit()) as server:
        config = ModelConfig(model="scripted", base_url=server.openai_base_url, api_key="sk-test")
        ...
        assert server.requests[1].last_message["role"] == "tool"

From another process (a Celery worker, a browser journey), start it alone::

    python -m tests.support.model_server --port 8765 --script script.json --when-exhausted submit

or script a running one over HTTP: ``POST /_script`` with the JSON script
(``"append": true`` to add rather than replace), ``GET /_requests`` for the
recorded requests, ``POST /_reset`` to clear both.
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import sys
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support import wire
from tests.support.script import (
    Call,
    Dynamic,
    Exhausted,
    Hang,
    HttpError,
    Raw,
    RecordedRequest,
    Reply,
    Step,
    load_script,
)


@dataclass(frozen=True)
class Quirks:
    """Ways real OpenAI-compatible servers differ, switched on per test."""

    reject_null_content: bool = False
    """400 when an assistant message has ``content: null`` (some llama.cpp and vLLM builds)."""
    reject_tools: bool = False
    """400 when the request carries tool definitions (servers without tool support)."""
    reject_stream_options: bool = False
    """400 when the request carries ``stream_options`` (older servers)."""
    omit_usage: bool = False
    """Never report usage."""
    context_window: int | None = None
    """400 "maximum context length" when the prompt (estimated at 4 characters a token) is longer."""
    latency: float = 0.0
    """Seconds to wait before every answer."""


class ModelServer:
    def __init__(
        self,
        *steps: Step,
        when_exhausted: Exhausted = "error",
        quirks: Quirks | None = None,
        chunk_size: int = 7,
        model_name: str = "scripted",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.quirks = quirks or Quirks()
        self.when_exhausted: Exhausted = when_exhausted
        self.chunk_size = chunk_size
        self.model_name = model_name
        self._steps: deque[Step] = deque(steps)
        self._requests: list[RecordedRequest] = []
        self._replies = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._host = host
        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.owner = self
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> ModelServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="model-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes any request that is hanging on purpose
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ModelServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self._httpd.server_port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    # -- the script ------------------------------------------------------------

    def add(self, *steps: Step) -> None:
        with self._lock:
            self._steps.extend(steps)

    def set_script(self, steps: Iterable[Step], when_exhausted: Exhausted | None = None) -> None:
        with self._lock:
            self._steps = deque(steps)
            if when_exhausted is not None:
                self.when_exhausted = when_exhausted

    def reset(self) -> None:
        with self._lock:
            self._steps.clear()
            self._requests.clear()
            self._replies = 0

    @property
    def remaining(self) -> int:
        with self._lock:
            return len(self._steps)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every model request received (control and model-list requests left out)."""
        with self._lock:
            return [r for r in self._requests if r.protocol != "other"]

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _next(self, request: RecordedRequest) -> tuple[Step, int]:
        with self._lock:
            self._replies += 1
            number = self._replies
            if self._steps:
                return self._steps.popleft(), number
        if self.when_exhausted == "submit":
            if request.tools:
                return Reply(calls=(Call("submit", {"summary": "Script finished."}),)), number
            return Reply(content="```bash\nsubmit\nScript finished.\n```"), number
        return HttpError(400, f"scripted model server: script exhausted after {number - 1} replies"), number

    def _hang(self, seconds: float) -> bool:
        """Wait; False when the server is stopping."""
        return not self._stopping.wait(seconds)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a hanging handler must never hold up stop()
    owner: ModelServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out hang up on purpose; their broken pipes are not news.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; with Nagle on, a keep-alive client waits
        # for the delayed ACK (40 ms) on every reply.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # -- plumbing --------------------------------------------------------------

    def _read(self) -> RecordedRequest:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        try:
            body = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = None
        headers = {k.lower(): v for k, v in self.headers.items()}
        return RecordedRequest(self.command, self.path.split("?")[0], headers, raw, body)

    def _send(
        self, status: int, body: bytes | str, content_type: str = "application/json", headers: Any = ()
    ) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in dict(headers).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _json(self, status: int, obj: Any, headers: Any = ()) -> None:
        self._send(status, json.dumps(obj), headers=headers)

    def _sse(self, events: Iterable[tuple[str | None, Any]]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        for name, data in events:
            payload = data if isinstance(data, str) else json.dumps(data)
            prefix = f"event: {name}\n" if name else ""
            self.wfile.write(f"{prefix}data: {payload}\n\n".encode())
            self.wfile.flush()
        self.close_connection = True

    # -- routes ----------------------------------------------------------------

    def do_GET(self) -> None:
        owner = self.server.owner
        path = self.path.split("?")[0]
        if path.endswith("/models"):
            self._json(
                200,
                {
                    "object": "list",
                    "data": [{"id": owner.model_name, "object": "model", "owned_by": "slipway"}],
                },
            )
        elif path == "/_requests":
            with owner._lock:
                recorded = [
                    {"method": r.method, "path": r.path, "headers": dict(r.headers), "body": r.body}
                    for r in owner._requests
                ]
            self._json(200, {"requests": recorded})
        elif path == "/health":
            self._json(200, {"ok": True})
        else:
            self._json(404, {"error": {"message": f"no route {path}"}})

    def do_POST(self) -> None:
        owner = self.server.owner
        request = self._read()
        try:
            if request.path == "/_script":
                self._control_script(request)
            elif request.path == "/_reset":
                owner.reset()
                self._json(200, {"ok": True})
            elif request.protocol == "other":
                self._json(404, {"error": {"message": f"no route {request.path}"}})
            else:
                owner._record(request)
                self._model(request)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _control_script(self, request: RecordedRequest) -> None:
        owner = self.server.owner
        try:
            script = load_script(request.body or {})
        except (ValueError, KeyError, TypeError) as exc:
            self._json(400, {"error": {"message": str(exc)}})
            return
        if isinstance(request.body, dict) and request.body.get("append"):
            owner.add(*script.replies)
        else:
            owner.set_script(script.replies, script.when_exhausted)
        self._json(200, {"queued": owner.remaining})

    def _refusal(self, request: RecordedRequest) -> str | None:
        quirks, body = self.server.owner.quirks, request.body
        if not isinstance(body, dict):
            return "the request body is not JSON"
        if quirks.reject_tools and request.tools:
            return "this server does not support tools"
        if quirks.reject_stream_options and "stream_options" in body:
            return "unknown field: stream_options"
        if quirks.reject_null_content and any(
            m.get("role") == "assistant" and m.get("content") is None for m in request.messages
        ):
            return "messages: content must be a string"
        if quirks.context_window is not None:
            prompt = len(request.raw) // 4
            if prompt > quirks.context_window:
                if request.protocol == "anthropic":
                    return f"prompt is too long: {prompt} tokens > {quirks.context_window} maximum"
                return (
                    f"This model's maximum context length is {quirks.context_window} tokens. "
                    f"However, your messages resulted in {prompt} tokens."
                )
        return None

    def _error(
        self, request: RecordedRequest, status: int, message: str, headers: Any = (), code: str | None = None
    ) -> None:
        if request.protocol == "anthropic":
            self._json(status, wire.anthropic_error(status, message), headers)
        else:
            self._json(status, wire.openai_error(status, message, code), headers)

    def _model(self, request: RecordedRequest) -> None:
        owner = self.server.owner
        if owner.quirks.latency and not owner._hang(owner.quirks.latency):
            return
        refusal = self._refusal(request)
        if refusal is not None:
            self._error(request, 400, refusal)
            return
        step, number = owner._next(request)
        while True:
            if isinstance(step, Dynamic):
                step = step.decide(request)
            elif isinstance(step, Hang):
                if not owner._hang(step.seconds) or step.then is None:
                    self.close_connection = True
                    return
                step = step.then
            else:
                break
        if isinstance(step, HttpError):
            self._error(request, step.status, step.message, step.headers, step.code)
        elif isinstance(step, Raw):
            self._send(step.status, step.body, step.content_type)
        else:
            self._reply(request, step, number)

    def _reply(self, request: RecordedRequest, reply: Reply, number: int) -> None:
        owner = self.server.owner
        prompt = reply.prompt_tokens if reply.prompt_tokens is not None else max(1, len(request.raw) // 4)
        written = reply.content + "".join(c.name + c.arguments_json() for c in reply.calls)
        completion = (
            reply.completion_tokens if reply.completion_tokens is not None else max(1, len(written) // 4)
        )
        model, size = owner.model_name, owner.chunk_size
        if request.protocol == "anthropic":
            if request.stream:
                self._sse(
                    wire.anthropic_events(
                        reply, model=model, number=number, prompt=prompt, completion=completion, size=size
                    )
                )
            else:
                self._json(
                    200,
                    wire.anthropic_message(
                        reply, model=model, number=number, prompt=prompt, completion=completion
                    ),
                )
            return
        usage = None if owner.quirks.omit_usage else wire.openai_usage(prompt, completion)
        if not request.stream:
            self._json(200, wire.openai_completion(reply, model=model, number=number, usage=usage))
            return
        options = request.body.get("stream_options") or {}
        chunks = wire.openai_chunks(
            reply,
            model=model,
            number=number,
            usage=usage if options.get("include_usage") else None,
            size=size,
        )
        self._sse([*((None, c) for c in chunks), (None, "[DONE]")])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.model_server", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on start)")
    parser.add_argument("--script", help="JSON script (see tests/support/script.py); empty when omitted")
    parser.add_argument("--when-exhausted", choices=["error", "submit"], default=None)
    parser.add_argument("--chunk-size", type=int, default=7)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before every answer")
    args = parser.parse_args(argv)

    script = load_script(args.script) if args.script else load_script({})
    server = ModelServer(
        *script.replies,
        when_exhausted=args.when_exhausted or script.when_exhausted,
        quirks=Quirks(latency=args.latency),
        chunk_size=args.chunk_size,
        host=args.host,
        port=args.port,
    ).start()
    print(
        f"scripted model server listening on {server.url} (OpenAI base URL {server.openai_base_url})",
        flush=True,
    )
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
