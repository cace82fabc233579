"""A real git server for tests: ``git http-backend`` behind HTTP basic auth on 127.0.0.1.

It speaks the smart HTTP protocol (v0 and v2), so fetches and pushes from the
code under test go through libcurl, the askpass helper and real
authentication, exactly as they would against a forge. Every request needs
the one username and password the server was started with; a request without
them gets a 401 (which is what makes git ask for credentials), a wrong pair a
401 as well. The server keeps an access log (method, path, user, status) and
never logs a header, so tests can assert that no credential appears in it.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Access:
    method: str
    path: str
    user: str | None
    status: int


class GitHTTPServer:
    """Serves every bare repository under ``root`` at ``http://127.0.0.1:<port>/<name>.git``."""

    def __init__(self, root: Path, username: str, password: str) -> None:
        self.root = Path(root)
        self.username = username
        self.password = password
        self.log: list[Access] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="git-http", daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def start(self) -> GitHTTPServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> GitHTTPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def authorised(self, header: str | None) -> str | None:
        """The user a Basic ``Authorization`` header proves, or None."""
        if not header or not header.startswith("Basic "):
            return None
        try:
            user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        good = hmac.compare_digest(user, self.username) & hmac.compare_digest(password, self.password)
        return user if good else None


def _handler_for(server: GitHTTPServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.0: one request per connection, and a response body may end with the connection.
        protocol_version = "HTTP/1.0"

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def log_message(self, format: str, *args: object) -> None:
            pass  # the access log below is the only log, and it holds no header

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            user = server.authorised(self.headers.get("Authorization"))
            if user is None:
                self._refuse(parts.path)
                return
            body = self._body()
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "GIT_CONFIG_NOSYSTEM": "1",
                "GIT_CONFIG_GLOBAL": "/dev/null",
                "GIT_PROJECT_ROOT": str(server.root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "REQUEST_METHOD": self.command,
                "PATH_INFO": parts.path,
                "QUERY_STRING": parts.query,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)),
                "REMOTE_USER": user,  # http-backend allows pushes from an authenticated user only
                "REMOTE_ADDR": self.client_address[0],
            }
            if self.headers.get("Content-Encoding"):
                env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
            if self.headers.get("Git-Protocol"):
                env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
            done = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, timeout=120)
            head, _, payload = done.stdout.partition(b"\r\n\r\n")
            if not _:
                head, _, payload = done.stdout.partition(b"\n\n")
            status, headers = 200, []
            for line in head.decode("latin-1").splitlines():
                name, _, value = line.partition(":")
                if name.lower() == "status":
                    status = int(value.split()[0])
                elif name:
                    headers.append((name, value.strip()))
            server.log.append(Access(self.command, parts.path, user, status))
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def _refuse(self, path: str) -> None:
            server.log.append(Access(self.command, path, None, 401))
            self._body()  # drain what the client sent, so it reads our answer
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="slipway tests"')
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                return b"".join(self._chunks())
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _chunks(self) -> Iterator[bytes]:
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()  # the blank line after the last chunk (no trailers from git)
                    return
                yield self.rfile.read(size)
                self.rfile.readline()

    return Handler


def bare_copy(source: Path, root: Path, name: str) -> Path:
    """A bare clone of ``source`` at ``root/name``, ready to serve."""
    dest = root / name
    subprocess.run(["git", "clone", "--quiet", "--bare", "--", str(source), str(dest)], check=True, env=_plain_git_env())
    return dest


def _plain_git_env() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "HOME": "/nonexistent"}
