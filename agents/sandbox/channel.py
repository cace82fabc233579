"""The worker's side of the exec server's protocol, shared by every backend.

A backend supplies a ``Transport`` (a docker attach socket, a pair of pipes);
the ``Channel`` frames requests, reads replies, decodes output and builds
``ExecResult``s. One request at a time: the agent loop and a heartbeat thread
may both call in, so every exchange holds a lock.
"""

from __future__ import annotations

import codecs
import json
import logging
import posixpath
import threading
import time
from collections.abc import Mapping
from typing import Any, Protocol

from agents.sandbox import execserver
from agents.sandbox.base import WORKSPACE, ExecResult, OutputCallback, SandboxError, SandboxSpec

log = logging.getLogger(__name__)

GRACE = 30.0
"""Seconds past a command's own timeout before the server counts as hung (it enforces the timeout itself)."""
REQUEST_TIMEOUT = 120.0
"""Seconds a ping, read or write may take."""


class Transport(Protocol):
    def send(self, data: bytes) -> None: ...

    def recv(self, timeout: float) -> bytes:
        """Some bytes of the server's stdout; b"" once it has ended. Raises TimeoutError."""
        ...

    def close(self) -> None: ...

    def diagnostics(self) -> str:
        """What the server wrote on stderr, for error messages."""
        ...


class Channel:
    def __init__(self, transport: Transport, sandbox_id: str) -> None:
        self.transport = transport
        self.sandbox_id = sandbox_id
        self._lock = threading.Lock()
        self._buffer = bytearray()
        self._broken: str | None = None

    # --- requests ---------------------------------------------------------------

    def boot(self, source: bytes, timeout: float = REQUEST_TIMEOUT) -> dict[str, Any]:
        """Hand the starting interpreter the server's source, then wait until it says it is ready."""
        # Nothing else may be sent before the answer: Python's buffered stdin could swallow it.
        with self._lock:
            self._send_raw(source)
        return self.ready(timeout)

    def ready(self, timeout: float = REQUEST_TIMEOUT) -> dict[str, Any]:
        """Wait for the server's first frame: who it runs as."""
        with self._lock:
            return self._reply(time.monotonic() + timeout)[0]

    def ping(self, timeout: float = REQUEST_TIMEOUT) -> dict[str, Any]:
        with self._lock:
            self._send(execserver.PING, {})
            return self._reply(time.monotonic() + timeout)[0]

    def read_file(self, path: str) -> bytes:
        with self._lock:
            self._send(execserver.READ, {"path": _absolute(path)})
            return self._reply(time.monotonic() + REQUEST_TIMEOUT)[1]

    def write_file(self, path: str, data: bytes) -> None:
        with self._lock:
            self._send(execserver.WRITE, {"path": _absolute(path)}, bytes(data))
            self._reply(time.monotonic() + REQUEST_TIMEOUT)

    def exec(
        self,
        command: str,
        *,
        timeout: float,
        limit: int,
        on_output: OutputCallback | None = None,
        cwd: str = WORKSPACE,
        env: Mapping[str, str] | None = None,
    ) -> ExecResult:
        request = {
            "cmd": command,
            "cwd": _absolute(cwd),
            "env": dict(env or {}),
            "timeout": timeout,
            "limit": limit,
        }
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        parts: list[str] = []
        with self._lock:
            self._send(execserver.EXEC, request)
            deadline = time.monotonic() + timeout + GRACE
            try:
                payload, failure = self._stream(deadline, decoder, parts, on_output)
            except BaseException as exc:
                if not isinstance(exc, SandboxError):
                    self._broken = f"a command was interrupted mid-stream ({type(exc).__name__})"
                raise
        if failure is not None:
            raise failure  # the callback's, once the command is over and the stream in step
        parts.append(decoder.decode(b"", final=True))
        ended = json.loads(payload.partition(b"\n")[0])
        return ExecResult(
            exit_code=ended["exit_code"],
            output="".join(parts),
            duration=ended["duration"],
            truncated=ended["truncated"],
            timed_out=ended["timed_out"],
            oom_killed=ended["oom_killed"],
        )

    def _stream(
        self,
        deadline: float,
        decoder: codecs.IncrementalDecoder,
        parts: list[str],
        on_output: OutputCallback | None,
    ) -> tuple[bytes, Exception | None]:
        """Collect a command's output frames up to its exit frame: that frame, and what ``on_output`` raised."""
        failure: Exception | None = None
        while True:
            kind, payload = self._frame(deadline)
            if kind == execserver.EXIT:
                break
            if kind != execserver.OUTPUT:
                raise self._break(f"unexpected {kind!r} frame while a command ran")
            text = decoder.decode(payload)
            if not text:
                continue
            parts.append(text)
            if on_output is not None and failure is None:
                try:
                    on_output(text)
                except Exception as exc:
                    # Stop the command, but read on to its end so the stream stays in step.
                    failure = exc
                    self._send_frame(execserver.KILL, b"")
        return payload, failure

    def close(self) -> None:
        self._broken = self._broken or "the sandbox was stopped"
        self.transport.close()

    # --- framing ----------------------------------------------------------------

    def _send(self, kind: bytes, request: dict[str, Any], body: bytes = b"") -> None:
        self._send_frame(kind, json.dumps(request).encode() + b"\n" + body)

    def _send_frame(self, kind: bytes, payload: bytes) -> None:
        self._send_raw(execserver.HEADER.pack(kind, len(payload)) + payload)

    def _send_raw(self, data: bytes) -> None:
        if self._broken:
            raise SandboxError(f"sandbox {self.sandbox_id} is unusable: {self._broken}")
        try:
            self.transport.send(data)
        except OSError as exc:
            raise self._break(f"cannot write to it ({exc})") from exc

    def _reply(self, deadline: float) -> tuple[dict[str, Any], bytes]:
        kind, payload = self._frame(deadline)
        header, _, body = payload.partition(b"\n")
        reply = json.loads(header)
        if kind == execserver.ERROR:
            raise OSError(reply.get("errno") or 0, reply["error"])  # FileNotFoundError and kin
        if kind != execserver.DATA:
            raise self._break(f"unexpected {kind!r} frame")
        return reply, body

    def _frame(self, deadline: float) -> tuple[bytes, bytes]:
        size = execserver.HEADER.size
        while True:
            if len(self._buffer) >= size:
                kind, length = execserver.HEADER.unpack_from(self._buffer)
                if len(self._buffer) >= size + length:
                    payload = bytes(self._buffer[size : size + length])
                    del self._buffer[: size + length]
                    return kind, payload
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._break("it stopped answering")
            try:
                data = self.transport.recv(remaining)
            except TimeoutError:
                continue
            except OSError as exc:
                raise self._break(f"cannot read from it ({exc})") from exc
            if not data:
                raise self._break("its exec server ended")
            self._buffer += data

    def _break(self, reason: str) -> SandboxError:
        detail = self.transport.diagnostics().strip()
        self._broken = reason + (f"; it said: {detail[-2000:]}" if detail else "")
        log.warning("sandbox %s is unusable: %s", self.sandbox_id, self._broken)
        return SandboxError(f"sandbox {self.sandbox_id} is unusable: {self._broken}")


def _absolute(path: str) -> str:
    return posixpath.normpath(posixpath.join(WORKSPACE, path))


class ChannelSandbox:
    """What both backends' sandboxes share: every call goes to the exec server over a channel.

    A subclass sets ``id``, ``spec`` and ``_channel`` and implements ``stop`` (which sets ``_stopped``).
    """

    id: str
    spec: SandboxSpec
    _channel: Channel | None = None
    _stopped: bool = False

    def exec(
        self,
        command: str,
        *,
        timeout: float | None = None,
        on_output: OutputCallback | None = None,
        cwd: str = WORKSPACE,
        env: Mapping[str, str] | None = None,
    ) -> ExecResult:
        return self._live().exec(
            command,
            timeout=timeout or self.spec.limits.command_timeout,
            limit=self.spec.limits.output_limit,
            on_output=on_output,
            cwd=cwd,
            env=env,
        )

    def read_file(self, path: str) -> bytes:
        return self._live().read_file(path)

    def write_file(self, path: str, data: bytes) -> None:
        self._live().write_file(path, data)

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> ChannelSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _live(self) -> Channel:
        if self._stopped or self._channel is None:
            raise SandboxError(f"sandbox {self.id[:20]} is stopped")
        return self._channel
