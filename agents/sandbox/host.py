"""What both backends do the same way on the host: the sandbox's user, environment and labels."""

from __future__ import annotations

import json
import math
import os
import subprocess
import time
from functools import cache
from pathlib import Path

from agents.sandbox import execserver
from agents.sandbox.base import LABEL_CREATED, LABEL_DEADLINE, SandboxError, SandboxSpec

SANDBOX_UID = 1000
SANDBOX_GID = 1000
"""Commands run as this user (``agent`` in the image); a root worker hands the workspace to it."""

BASE_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/tmp/home",  # the root file system is read-only; /tmp is the sandbox's scratch space
    "USER": "agent",
    "LANG": "C.UTF-8",
    "TERM": "dumb",
    "PAGER": "cat",
    "GIT_PAGER": "cat",
    # The repository belongs to another uid as seen from inside (and its git dir is read-only):
    # without this git refuses it as "dubious ownership". Set here, not in a file, so every image works.
    "GIT_CONFIG_COUNT": "1",
    "GIT_CONFIG_KEY_0": "safe.directory",
    "GIT_CONFIG_VALUE_0": "*",
}


def command_env(spec: SandboxSpec) -> dict[str, str]:
    return BASE_ENV | dict(spec.env)


def sandbox_labels(spec: SandboxSpec, now: float | None = None) -> dict[str, str]:
    created = time.time() if now is None else now
    return dict(spec.labels) | {
        LABEL_CREATED: str(int(created)),
        LABEL_DEADLINE: str(math.ceil(created + spec.limits.sandbox_timeout)),
    }


def sandbox_user(workspace: Path) -> tuple[int, int]:
    """The uid and gid commands run as, once they can write ``workspace``.

    A root worker gives the workspace to uid 1000, so nothing in the sandbox runs
    as root; any other worker runs sandboxes as itself, the workspace's owner.
    """
    if os.geteuid() != 0:
        return os.getuid(), os.getgid()
    hand_over(workspace, SANDBOX_UID, SANDBOX_GID)
    return SANDBOX_UID, SANDBOX_GID


def hand_over(path: Path, uid: int, gid: int) -> None:
    """Give everything under ``path`` to uid:gid, never following a symlink out of it."""
    # --no-dereference with -R's default -P: a symlink planted in the workspace is
    # changed itself, never its target. The C tool does 20,000 files in ~60 ms.
    result = subprocess.run(
        ["chown", "-R", "--no-dereference", f"{uid}:{gid}", "--", str(path)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise SandboxError(f"cannot give the workspace {path} to uid {uid}: {result.stderr.strip()}")


@cache
def server_source() -> bytes:
    return Path(execserver.__file__).read_bytes()


# The server's source arrives on stdin, so `ps` inside the sandbox shows one short line.
BOOT = "import sys;exec(sys.stdin.buffer.read(int(sys.argv[2])))"


def server_argv(python: str, options: dict[str, object]) -> list[str]:
    """The command line that runs the exec server with the sandbox's own Python (see ``Channel.boot``)."""
    # -I -S: no site packages, no PYTHON* variables: the server is stdlib only and starts in ~10 ms.
    return [python, "-I", "-S", "-c", BOOT, json.dumps(options), str(len(server_source()))]
