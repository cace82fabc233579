"""The exec server: the long-lived main process inside every sandbox.

It reads framed requests on stdin and answers on stdout, so a command costs
one process spawn instead of a ``docker exec`` (about 2 ms instead of 60).
Each command is a fresh ``bash -c`` in its own session and process group;
only files persist between commands: what a command leaves running in the
background is killed when it ends (a daemon that calls setsid survives). The backends run this file's source with
the sandbox's own ``python3 -c``, so it must stay pure standard library and
work on any Python 3.8+. It arrives on stdin (see ``host.BOOT``) and says
it is ready with a ``D`` frame. Its options (argv[1]) may name a unix socket to
talk over instead of stdin and stdout.

Frames, both ways: one kind byte, a 4-byte big-endian payload length, the
payload. A request's payload is a JSON object, a newline, then a body (the
bytes of a file to write). Replies:

- ``O`` raw output bytes (stdout and stderr merged), streamed while it runs;
- ``X`` JSON: how the command ended;
- ``D`` JSON, newline, body: the answer to a ping, read or write;
- ``E`` JSON ``{"error": ...}``: a read or write failed.

While a command runs the client may send ``K`` to kill it. End of input on
stdin (the worker died) kills the running command and ends the server.
"""

from __future__ import annotations

import json
import os
import select
import signal
import struct
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:  # importing typing would cost 3 ms of every sandbox's start
    from collections.abc import Callable
    from typing import Any

HEADER = struct.Struct(">cI")
EXEC, READ, WRITE, PING, KILL = b"C", b"R", b"W", b"P", b"K"
OUTPUT, EXIT, DATA, ERROR = b"O", b"X", b"D", b"E"

CHUNK = 65536
TAIL_SHARE = 4
"""A truncated output keeps its last limit/TAIL_SHARE bytes (where summaries and tracebacks are)."""
WATCH_INTERVAL = 0.025
"""Seconds between memory checks while a command runs (only with a memory watchdog)."""
IDLE_WATCH_INTERVAL = 0.1
"""Seconds between memory checks between commands: a daemon a command left (setsid) is watched too."""
LINGER = 0.05
"""Seconds to keep reading output after a command exits, for what escaped its process group."""


class Server:
    def __init__(self, options: dict[str, Any]) -> None:
        self.env = dict(options.get("env") or {})
        self.rfd, self.wfd = 0, 1
        if options.get("connect"):
            # Docker: a unix socket the worker listens on, bind-mounted read-only. The attach stream
            # through dockerd moves ~50 MB/s; this moves ~500 MB/s.
            import socket

            self.channel = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.channel.connect(options["connect"])
            self.rfd = self.wfd = self.channel.fileno()
        self.memory_bytes = (options.get("memory_mb") or 0) * 1024 * 1024
        self.inbuf = bytearray()
        self.eof = False
        # pid -> wait status, for children reaped while we waited for another
        self.children: dict[int, int] = {}
        self.wake_r, wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(wake_w, False)
        # SIGCHLD writes a byte to wake_w, so select() wakes when a command ends.
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.oom_kills = _oom_counter()
        if options.get("nproc"):
            import resource

            resource.setrlimit(resource.RLIMIT_NPROC, (options["nproc"], options["nproc"]))
        _harden()
        home = self.env.get("HOME")
        if home:
            os.makedirs(home, exist_ok=True)

    # --- framing ---------------------------------------------------------------

    def send(self, kind: bytes, payload: bytes = b"") -> None:
        data = HEADER.pack(kind, len(payload)) + payload
        view = memoryview(data)
        while view:
            view = view[os.write(self.wfd, view) :]

    def send_json(self, kind: bytes, obj: dict[str, Any], body: bytes = b"") -> None:
        self.send(kind, json.dumps(obj).encode() + b"\n" + body)

    def fill(self) -> bool:
        """Read what stdin has; False at end of input."""
        data = os.read(self.rfd, CHUNK)
        if not data:
            self.eof = True
            return False
        self.inbuf += data
        return True

    def next_frame(self) -> tuple[bytes, bytes] | None:
        """A complete frame from the input buffer, or None."""
        if len(self.inbuf) < HEADER.size:
            return None
        kind, size = HEADER.unpack_from(self.inbuf)
        if len(self.inbuf) < HEADER.size + size:
            return None
        payload = bytes(self.inbuf[HEADER.size : HEADER.size + size])
        del self.inbuf[: HEADER.size + size]
        return kind, payload

    def serve(self) -> None:
        self.send_json(DATA, self.whoami())  # ready
        while True:
            frame = self.next_frame()
            while frame is None:
                if self.memory_bytes and not select.select([self.rfd], [], [], IDLE_WATCH_INTERVAL)[0]:
                    self.watch_idle()
                    continue
                if not self.fill():
                    return
                frame = self.next_frame()
            kind, payload = frame
            header, _, body = payload.partition(b"\n")
            request = json.loads(header or b"{}")
            if kind == EXEC:
                self.run(request)
            elif kind == READ:
                self.read_file(request)
            elif kind == WRITE:
                self.write_file(request, body)
            elif kind == PING:
                self.send_json(DATA, self.whoami())
            # A KILL that arrives after its command ended has nothing left to kill.

    def whoami(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "uid": os.getuid(), "gid": os.getgid()}

    # --- files -----------------------------------------------------------------

    def read_file(self, request: dict[str, Any]) -> None:
        try:
            with open(request["path"], "rb") as f:
                data = f.read()
        except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
            return self.send_json(ERROR, _failure(exc, request["path"]))
        self.send_json(DATA, {"size": len(data)}, data)

    def write_file(self, request: dict[str, Any], body: bytes) -> None:
        path = request["path"]
        try:
            parent = os.path.dirname(path)
            if parent:
                os.makedirs(parent, exist_ok=True)
            with open(path, "wb") as f:
                f.write(body)
        except (OSError, ValueError) as exc:
            return self.send_json(ERROR, _failure(exc, path))
        self.send_json(DATA, {"size": len(body)})

    # --- commands --------------------------------------------------------------

    def run(self, request: dict[str, Any]) -> None:
        started = time.monotonic()
        limit = max(int(request.get("limit") or 65536), 1024)
        output = Output(limit, self.send)
        env = dict(self.env)
        env.update(request.get("env") or {})
        cwd = request.get("cwd") or "/"
        try:
            os.chdir(cwd)
        except (OSError, ValueError) as exc:
            output.add(f"bash: cd: {_failure(exc, cwd)['error']}\n".encode())
            output.finish()
            return self.send_json(EXIT, _ended(1, started, output))
        r, w = os.pipe()
        try:
            pid = os.posix_spawn(
                "/bin/bash",
                ["bash", "-c", request["cmd"]],
                env,
                file_actions=[
                    (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
                    (os.POSIX_SPAWN_DUP2, w, 1),
                    (os.POSIX_SPAWN_DUP2, w, 2),
                ],
                setsid=True,
                # Python ignores SIGPIPE and SIGXFSZ; commands expect the defaults.
                setsigdef=(signal.SIGPIPE, signal.SIGXFSZ),
                setsigmask=(),
            )
        except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the command or its environment
            os.close(r)
            os.close(w)
            output.add(f"sandbox: cannot start bash: {exc}\n".encode())
            output.finish()
            return self.send_json(EXIT, _ended(126, started, output))
        finally:
            os.chdir("/")
        os.close(w)
        os.set_blocking(r, False)
        timeout = float(request.get("timeout") or 300)
        deadline = started + timeout
        oom_before = self.oom_kills()
        status: int | None = None
        ended = 0.0  # when it exited or was killed
        timed_out = watchdog = cancelled = drained = False
        next_check = started
        while True:
            now = time.monotonic()
            if status is None:
                status = self.reap(pid)
                if status is not None:
                    ended = now
                    _kill_group(pid)  # what it left in the background goes with it
            if status is not None and (drained or now - ended > LINGER):
                break
            if status is None and now >= deadline:
                timed_out = True
            elif status is None and self.memory_bytes and now >= next_check:
                next_check = now + WATCH_INTERVAL
                watchdog = _sandbox_memory() > self.memory_bytes
            if status is None and watchdog:
                _kill_all_but_us()  # the sandbox as a whole is over its memory: daemons too
            if status is None and (timed_out or watchdog):
                status, ended = self.kill_tree(pid), time.monotonic()
                continue
            if status is not None:
                wait = LINGER - (now - ended)
            else:
                wait = min(deadline, next_check) - now if self.memory_bytes else deadline - now
            watched = [self.wake_r] + ([] if drained else [r]) + ([] if self.eof else [self.rfd])
            ready, _, _ = select.select(watched, [], [], max(wait, 0))
            if self.wake_r in ready:
                _drain(self.wake_r)
            if self.rfd in ready and status is None:
                frame = self.next_frame() if self.fill() else None
                if self.eof or (frame is not None and frame[0] == KILL):
                    cancelled = True
                    status, ended = self.kill_tree(pid), time.monotonic()
            if r in ready:
                data = _read(r)
                if data == b"":
                    drained = True  # every writer is gone; now only the exit status is missing
                elif data:
                    output.add(data)
        os.close(r)
        self.settle(pid)
        output.finish()
        result = _ended(_exit_code(status), started, output)
        oom = watchdog or (not cancelled and self.oom_kills() > oom_before)
        result.update(timed_out=timed_out, oom_killed=oom, cancelled=cancelled)
        if timed_out:
            result["exit_code"] = -1
        if self.eof:
            sys.exit(0)
        self.send_json(EXIT, result)

    def reap(self, pid: int) -> int | None:
        """The wait status of ``pid`` if it has ended, else None; reaps every other child too."""
        self.reap_all()
        return self.children.pop(pid, None)

    def reap_all(self) -> None:
        # We are the subreaper (pid 1 in docker): orphans of every command end up here.
        while True:
            try:
                child, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if child == 0:
                return
            self.children[child] = status

    def watch_idle(self) -> None:
        """Between commands: past the memory limit, everything but us goes (only daemons can be left)."""
        self.reap_all()
        if _sandbox_memory() <= self.memory_bytes:
            return
        _kill_all_but_us()
        sys.stderr.write("exec server: background processes passed the memory limit and were killed\n")
        sys.stderr.flush()

    def settle(self, pgid: int) -> None:
        """Wait until nothing of a command's process group is left, zombies included."""
        # Its output can end before its last process does; the next command must not see it.
        for _ in range(500):
            self.reap_all()
            if not _group_alive(pgid):
                return
            _kill_group(pgid)
            time.sleep(0.002)

    def kill_tree(self, pid: int) -> int:
        """Kill the command's process group and every descendant, wait for them; return its status."""
        victims = _descendants(pid)
        for _ in range(200):
            _kill_group(pid)
            for victim in victims:
                _signal(victim, signal.SIGKILL)
            self.reap_all()
            if pid in self.children and not _group_alive(pid):
                break
            time.sleep(0.005)
            victims = _descendants(pid) | victims
        return self.children.pop(pid, 9)


class Output:
    """Streams the head, keeps the tail, and says what it cut."""

    def __init__(self, limit: int, send: Callable[[bytes, bytes], None]) -> None:
        self.tail_limit = limit // TAIL_SHARE
        self.head_limit = limit - self.tail_limit
        self.send = send
        self.total = 0
        self.held = bytearray()  # past the head: shown only at the end

    def add(self, data: bytes) -> None:
        room = self.head_limit - self.total
        self.total += len(data)
        if room > 0:
            self.send(OUTPUT, data[:room])
            data = data[room:]
        if data:
            self.held += data
            if len(self.held) > 2 * self.tail_limit:
                del self.held[: len(self.held) - self.tail_limit]

    @property
    def truncated(self) -> bool:
        return self.total > self.head_limit + self.tail_limit

    def finish(self) -> None:
        if self.truncated:
            tail = bytes(self.held[-self.tail_limit :])
            note = f"\n[output truncated: {self.total} bytes, showing first {self.head_limit} and last {len(tail)}]\n"
            self.send(OUTPUT, note.encode())
            self.send(OUTPUT, tail)
        elif self.held:
            self.send(OUTPUT, bytes(self.held))
        self.held = bytearray()


def _ended(exit_code: int, started: float, output: Output) -> dict[str, Any]:
    return {
        "exit_code": exit_code,
        "duration": time.monotonic() - started,
        "truncated": output.truncated,
        "total_bytes": output.total,
        "timed_out": False,
        "oom_killed": False,
        "cancelled": False,
    }


def _exit_code(status: int) -> int:
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def _read(fd: int) -> bytes | None:
    try:
        return os.read(fd, CHUNK)
    except BlockingIOError:
        return None


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass


def _signal(pid: int, sig: int) -> None:
    try:  # noqa: SIM105 - contextlib would be one more import at start-up
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _kill_group(pgid: int) -> None:
    try:  # noqa: SIM105
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _kill_all_but_us() -> None:
    for pid in _processes():
        if pid != os.getpid():
            _signal(pid, signal.SIGKILL)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _processes() -> dict[int, tuple[int, int]]:
    """pid -> (ppid, resident anonymous bytes) for every process we can see."""
    page = os.sysconf("SC_PAGE_SIZE")
    found: dict[int, tuple[int, int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
            with open(f"/proc/{name}/statm", "rb") as f:
                statm = f.read().split()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: fields start after the last ")".
        fields = stat[stat.rindex(b")") + 2 :].split()
        found[int(name)] = (int(fields[1]), (int(statm[1]) - int(statm[2])) * page)
    return found


def _descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in _processes().items():
        children.setdefault(ppid, []).append(pid)
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _sandbox_memory() -> int:
    # In a bubblewrap sandbox /proc shows only the sandbox's own processes.
    # Anonymous memory only: shared libraries mapped by a hundred processes are not a hundred copies.
    return sum(anon for _, anon in _processes().values())


def _oom_counter() -> Callable[[], int]:
    """A function reading the cgroup's OOM-kill count (docker), or one always answering 0."""
    for path in ("/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control"):
        if os.path.exists(path):

            def count(path: str = path) -> int:
                try:
                    with open(path) as f:
                        for line in f:
                            key, _, value = line.partition(" ")
                            if key == "oom_kill":
                                return int(value)
                except OSError:
                    pass
                return 0

            return count
    return lambda: 0


def _harden() -> None:
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except Exception:
        return
    # Not dumpable: commands run as our uid, and could otherwise open /proc/<us>/fd/1 and write
    # frames into the channel (forging a test run's exit code) or ptrace us. This makes /proc/<us>
    # root's, out of their reach.
    prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE
    # Orphans of a command come to us, not to an init we cannot wait on, so a timeout can
    # reap them before it answers: "its children are dead" is then true.
    prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def _failure(exc: OSError | ValueError, path: str) -> dict[str, Any]:
    if isinstance(exc, OSError):
        return {"error": f"{path}: {exc.strerror or exc}", "errno": exc.errno}
    return {"error": f"{path!r}: {exc}", "errno": 0}


def main() -> None:
    options = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    os.chdir("/")
    Server(options).serve()


if __name__ == "__main__":
    main()
