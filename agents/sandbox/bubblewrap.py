"""Bubblewrap sandboxes, for hosts without a Docker daemon.

Each sandbox is a ``bwrap`` process tree: new user, pid, mount, network, ipc and
uts namespaces; only /usr (read-only), a generated /etc, a private /tmp and
/dev/shm, /proc, a read-only /dev and the workspace are visible; the root is
read-only. The exec server is the sandbox's pid 1 and talks over pipes.

Limits without cgroups:

- processes: RLIMIT_NPROC, set by the exec server inside its own user
  namespace. The kernel counts that limit per user *and* user namespace, so
  it counts only this sandbox's processes. It never binds uid 0 (the kernel
  exempts root), which is why a root worker does not run bwrap as root: it
  gives the workspace to uid 1000 and starts bwrap as that user (see below).
- memory: the exec server's watchdog adds up the anonymous memory of every
  process in the sandbox (every 25 ms while a command runs, every 100 ms
  between commands) and past the limit kills them, reporting ``oom_killed``.
  Docker's cgroup does this in the kernel; RLIMIT_AS would count address
  space, not memory, break runtimes that reserve much of it, and make a hog
  fail with ENOMEM instead of being reported.
- disk: /tmp is a tmpfs of ``disk_mb``, /dev/shm one of 64 MB. CPU share is
  not limited.

A root worker starts ``unshare --mount`` (root), which bind-mounts the
workspace and read-only mounts onto fresh directories under /tmp inside a
private mount namespace, then drops to uid 1000 with ``setpriv`` and runs bwrap.
The detour exists because bwrap, running as uid 1000, resolves every bind
source itself and could not reach a workspace below a private directory
(pytest's, or a 0700 data directory).

A record of each sandbox (pids, labels, deadline) lives in a state directory,
so a reaper in another process finds the ones a dead worker left. bwrap's
``--die-with-parent`` ties a sandbox to the *thread* that started it: start
sandboxes from a thread that lives as long as they do (Celery's prefork
workers run tasks on their main thread).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agents.sandbox import records
from agents.sandbox.base import (
    LABEL_DEADLINE,
    LABEL_RUN,
    WORKSPACE,
    SandboxError,
    SandboxSpec,
)
from agents.sandbox.channel import Channel, ChannelSandbox
from agents.sandbox.host import (
    SANDBOX_GID,
    SANDBOX_UID,
    command_env,
    sandbox_labels,
    sandbox_user,
    server_argv,
    server_source,
)
from agents.sandbox.records import Record

log = logging.getLogger(__name__)

ETC_SHARED = (
    "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "localtime", "os-release",
    "protocols", "services", "mime.types", "ssl/certs", "ssl/openssl.cnf", "ca-certificates",
)  # fmt: skip
"""What bash, python3 and git need of the host's /etc (and /etc/python3*); passwd, group and hosts are generated."""
ETC_GENERATED = {
    "passwd": (
        "root:x:0:0:root:/root:/usr/sbin/nologin\n"
        f"agent:x:{SANDBOX_UID}:{SANDBOX_GID}:Slipway agent:/tmp/home:/bin/bash\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    ),
    "group": f"root:x:0:\nagent:x:{SANDBOX_GID}:\nnogroup:x:65534:\n",
    "hosts": "127.0.0.1 localhost sandbox\n::1 localhost\n",
    "nsswitch.conf": "passwd: files\ngroup: files\nhosts: files dns\n",
}
SHM_BYTES = 64 * 1024 * 1024
"""/dev/shm, as docker sizes it by default."""
# Run as root inside a private mount namespace: expose each source on a path bwrap can reach, then drop root.
ALIAS_SCRIPT = (
    'set -e\nwhile [ "$1" != "--" ]; do mount --bind -- "$1" "$2"; shift 2; done\nshift\nexec "$@"\n'
)


class BubblewrapBackend:
    name = "bubblewrap"

    def __init__(
        self, state_dir: Path | str | None = None, bwrap: str = "bwrap", python: str = "/usr/bin/python3"
    ) -> None:
        """``state_dir`` holds a record of each live sandbox for the reaper (every worker and
        reaper on a host must share it); ``python`` is the host's interpreter the exec server runs on."""
        self.state_dir = Path(state_dir) if state_dir else records.default_state_dir()
        self.bwrap = bwrap
        self.python = python

    def check(self) -> str | None:
        if shutil.which(self.bwrap) is None:
            return "bubblewrap is not installed: apt-get install -y bubblewrap"
        if not os.access(self.python, os.X_OK):
            return f"{self.python} not found: the exec server needs the host's python3 (apt-get install -y python3)"
        if os.geteuid() == 0:
            missing = [tool for tool in ("unshare", "setpriv", "mount") if shutil.which(tool) is None]
            if missing:
                return f"{', '.join(missing)} not found: a root worker needs util-linux to start bubblewrap as uid {SANDBOX_UID}"
        probe = self._launcher([]) + [
            self.bwrap, "--unshare-all", "--unshare-user", "--die-with-parent", "--as-pid-1", *_system_binds(),
            "--size", "1048576", "--tmpfs", "/tmp", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_GID),
            "--disable-userns", "--", "/usr/bin/true",
        ]  # fmt: skip
        result = subprocess.run(probe, capture_output=True, text=True, timeout=30)
        said = result.stderr.strip() or f"exit code {result.returncode}"
        if result.returncode != 0 and "nknown option" in said:
            return f"this bubblewrap is too old ({said}): Slipway needs bubblewrap 0.8 or later"
        if result.returncode != 0:
            return (
                f"bubblewrap cannot create a sandbox here ({said}): user namespaces may be disabled "
                "(sysctl kernel.unprivileged_userns_clone=1, or an AppArmor profile for bwrap)"
            )
        return None

    def start(self, spec: SandboxSpec) -> BubblewrapSandbox:
        sandbox_user(spec.workspace)
        state_dir = records.open_state_dir(self.state_dir)
        sandbox_id = f"bwrap-{uuid.uuid4().hex[:12]}"
        # World-traversable on purpose: uid 1000 must reach the mount points in it.
        scratch = Path(tempfile.mkdtemp(prefix=f"slipway-{sandbox_id}-", dir="/tmp"))
        scratch.chmod(0o755)
        binds = [(spec.workspace.resolve(), WORKSPACE, False)]
        binds += [(host.resolve(), inside, True) for host, inside in spec.readonly_mounts]
        aliases: list[str] = []
        if os.geteuid() == 0:
            for index, (host, _, _) in enumerate(binds):
                alias = scratch / str(index)
                alias.mkdir(mode=0o755)
                aliases += [str(host), str(alias)]
            binds = [(scratch / str(index), inside, ro) for index, (_, inside, ro) in enumerate(binds)]
        data_fds: list[int] = []
        info_r, info_w = os.pipe()
        argv = self._launcher(aliases) + self._bwrap_argv(spec, binds, data_fds, info_w)
        options = {"env": command_env(spec), "memory_mb": spec.limits.memory_mb, "nproc": spec.limits.pids}
        argv += server_argv(self.python, options)
        labels = sandbox_labels(spec)
        try:
            with open(scratch / "stderr.log", "wb") as stderr:
                process = subprocess.Popen(
                    argv,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=stderr,
                    pass_fds=[*data_fds, info_w],
                )
        except OSError as exc:
            os.close(info_r)
            shutil.rmtree(scratch, ignore_errors=True)
            raise SandboxError(f"cannot start bubblewrap: {exc}") from exc
        finally:
            for fd in (*data_fds, info_w):
                os.close(fd)
        record = Record(
            id=sandbox_id,
            pid=process.pid,
            pid_started=records.started_at(process.pid),
            labels=labels,
            deadline=float(labels[LABEL_DEADLINE]),
            scratch=str(scratch),
        )
        records.save(state_dir, record)
        sandbox = BubblewrapSandbox(self, process, spec, record, scratch)
        try:
            sandbox.boot()
            record.child_pid = int(_read_json(info_r, timeout=5).get("child-pid", 0))
            record.child_started = records.started_at(record.child_pid) if record.child_pid else 0
            records.save(state_dir, record)
        except BaseException:
            sandbox.stop()
            raise
        finally:
            os.close(info_r)
        return sandbox

    def reap(self, is_run_alive: Callable[[str], bool], now: float | None = None) -> list[str]:
        now = time.time() if now is None else now
        if not self.state_dir.is_dir():
            return []
        removed = []
        for record in records.load_all(self.state_dir):
            alive = record.alive()
            run = record.labels.get(LABEL_RUN, "")
            if alive and now <= record.deadline and is_run_alive(run):
                continue
            if not alive:
                why = "its process is gone"
            elif now > record.deadline:
                why = "its deadline passed"
            else:
                why = f"run {run} is not alive"
            destroy(self.state_dir, record)
            log.info("reaped bubblewrap sandbox %s: %s", record.id, why)
            removed.append(record.id)
        return removed

    def _launcher(self, aliases: list[str]) -> list[str]:
        """What runs bwrap: nothing for an ordinary user; for root, the detour to uid 1000."""
        if os.geteuid() != 0:
            return []
        return [
            "unshare", "--mount", "--propagation", "private", "--",
            "/bin/sh", "-c", ALIAS_SCRIPT, "slipway-sandbox", *aliases, "--",
            "setpriv", f"--reuid={SANDBOX_UID}", f"--regid={SANDBOX_GID}", "--clear-groups", "--",
        ]  # fmt: skip

    def _bwrap_argv(
        self, spec: SandboxSpec, binds: list[tuple[Path, str, bool]], data_fds: list[int], info_fd: int
    ) -> list[str]:
        argv = [
            self.bwrap,
            "--unshare-all",
            "--unshare-user",
            "--die-with-parent",
            "--new-session",
            "--hostname",
            "sandbox",
            # The exec server is pid 1, as in docker: the only holder of the channel, out of the
            # reach of commands' signals, and the reaper of their orphans.
            "--as-pid-1",
        ]
        if spec.network:
            argv += ["--share-net", "--ro-bind-try", "/etc/resolv.conf", "/etc/resolv.conf"]
        argv += _system_binds()
        python_etc = [
            path.name for path in Path("/etc").glob("python3*")
        ]  # Debian's sitecustomize lives there
        for name in (*ETC_SHARED, *python_etc):
            argv += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
        for name, text in ETC_GENERATED.items():
            data_fds.append(_data_fd(text.encode()))
            argv += ["--ro-bind-data", str(data_fds[-1]), f"/etc/{name}"]
        # bwrap's /dev is a tmpfs of half the RAM: give /dev/shm a tmpfs of its own, as docker does, and
        # make the rest read-only, so no file there can hold memory the watchdog does not see.
        argv += ["--proc", "/proc", "--dev", "/dev", "--size", str(SHM_BYTES), "--tmpfs", "/dev/shm"]
        argv += ["--remount-ro", "/dev"]
        # Before any bind below /tmp: a tmpfs mounted after one would hide it.
        argv += ["--size", str(spec.limits.disk_mb * 1024 * 1024), "--tmpfs", "/tmp"]
        for host, inside, read_only in binds:
            argv += ["--ro-bind" if read_only else "--bind", str(host), inside]
        argv += ["--remount-ro", "/"]  # the root (and the /etc made in it) read-only; its mounts keep theirs
        argv += [
            "--uid",
            str(SANDBOX_UID),
            "--gid",
            str(SANDBOX_GID),
            "--disable-userns",
            "--cap-drop",
            "ALL",
        ]
        argv += [
            "--info-fd",
            str(info_fd),
            "--chdir",
            "/",
            "--clearenv",
            "--setenv",
            "PATH",
            "/usr/bin:/bin",
            "--",
        ]
        return argv


class BubblewrapSandbox(ChannelSandbox):
    def __init__(
        self,
        backend: BubblewrapBackend,
        process: subprocess.Popen[bytes],
        spec: SandboxSpec,
        record: Record,
        scratch: Path,
    ) -> None:
        self.backend = backend
        self.process = process
        self.spec = spec
        self.record = record
        self.id: str = record.id
        self._channel = Channel(_PipeStream(process, scratch / "stderr.log"), self.id)
        self._stopped = False

    def boot(self) -> None:
        self._channel.boot(server_source())

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._channel.close()  # the server reads end of input and ends, and bwrap with it
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=2)
        destroy(self.backend.state_dir, self.record)
        self.process.wait()



def destroy(state_dir: Path, record: Record) -> None:
    """Kill what is left of a sandbox, then forget it."""
    for pid, started in ((record.child_pid, record.child_started), (record.pid, record.pid_started)):
        # The sandbox's init first: when a pid namespace's init dies, the kernel kills everything in it.
        if pid > 0 and records.started_at(pid) == started:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    if record.scratch:
        shutil.rmtree(record.scratch, ignore_errors=True)
    records.forget(state_dir, record.id)


class _PipeStream:
    def __init__(self, process: subprocess.Popen[bytes], stderr_log: Path) -> None:
        assert process.stdin is not None and process.stdout is not None
        self._stdin = process.stdin
        self._stdout = process.stdout
        self._stderr_log = stderr_log

    def send(self, data: bytes) -> None:
        view = memoryview(data)
        fd = self._stdin.fileno()
        while view:
            view = view[os.write(fd, view) :]

    def recv(self, timeout: float) -> bytes:
        fd = self._stdout.fileno()
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            raise TimeoutError
        return os.read(fd, 262144)

    def close(self) -> None:
        self._stdin.close()
        self._stdout.close()

    def diagnostics(self) -> str:
        try:
            return self._stderr_log.read_text(errors="replace")[-4000:]
        except OSError:
            return ""


def _data_fd(data: bytes) -> int:
    """A pipe's read end holding ``data`` (small: it must fit the pipe's buffer)."""
    read, write = os.pipe()
    os.write(write, data)
    os.close(write)
    return read


def _system_binds() -> list[str]:
    """/usr read-only, and /bin, /lib... as the host has them (symlinks into /usr on merged hosts)."""
    argv = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        top = Path("/") / name
        if top.is_symlink():
            argv += ["--symlink", os.readlink(top), str(top)]
        elif top.is_dir():
            argv += ["--ro-bind", str(top), str(top)]
    return argv


def _read_json(fd: int, timeout: float) -> dict[str, Any]:
    """The JSON object bwrap writes to its info fd (an empty one if it never comes)."""
    data = b""
    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], remaining)
        chunk = os.read(fd, 65536) if ready else b""
        if not chunk:
            break
        data += chunk
        try:
            return dict(json.loads(data))
        except ValueError:
            continue  # not all of it yet
    return {}
