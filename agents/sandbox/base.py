"""The sandbox interface shared by every backend.

Everything the agent runs, reads or writes goes through a ``Sandbox``. A
backend starts sandboxes from a ``SandboxSpec`` and reaps the ones left
behind. Backends are registered by dotted path in ``agents.sandbox.BACKENDS``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

WORKSPACE = "/workspace"

# Labels every sandbox carries, so the reaper can tell whose it is.
LABEL_RUN = "slipway.run"
LABEL_PROJECT = "slipway.project"
LABEL_CREATED = "slipway.created"  # unix seconds, as a string
LABEL_DEADLINE = "slipway.deadline"  # unix seconds after which it must be gone


class SandboxError(Exception):
    """A sandbox could not be started or stopped, or its backend is unusable."""


@dataclass(frozen=True)
class SandboxLimits:
    memory_mb: int = 2048
    """Memory (RAM) for everything in the sandbox; the OOM killer ends the hog."""
    cpus: float = 2.0
    """CPU share, in cores."""
    pids: int = 256
    """Most processes and threads at once: a fork bomb stops here."""
    disk_mb: int = 2048
    """Size of the writable scratch space (/tmp)."""
    command_timeout: float = 300.0
    """Seconds one command may run before its whole process tree is killed."""
    sandbox_timeout: float = 3600.0
    """Seconds the sandbox may live; the reaper removes it afterwards."""
    output_limit: int = 65536
    """Bytes of output kept per command; the rest is cut with a note."""


@dataclass(frozen=True)
class SandboxSpec:
    workspace: Path
    """Host directory mounted read-write at ``/workspace``."""
    image: str = "slipway-sandbox:latest"
    """Image for the docker backend (ignored by bubblewrap)."""
    limits: SandboxLimits = field(default_factory=SandboxLimits)
    network: bool = False
    """Network access: only ever True for a project's setup command."""
    labels: Mapping[str, str] = field(default_factory=dict)
    readonly_mounts: tuple[tuple[Path, str], ...] = ()
    """(host path, path inside) pairs mounted read-only, e.g. the git mirror."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Environment for every command. Never put a secret here."""


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    """The command's exit code; 128+N when killed by signal N; -1 when it timed out."""
    output: str
    """stdout and stderr interleaved, decoded as UTF-8 with replacement, capped."""
    duration: float
    truncated: bool = False
    timed_out: bool = False
    oom_killed: bool = False


OutputCallback = Callable[[str], None]


class Sandbox(Protocol):
    id: str

    def exec(
        self,
        command: str,
        *,
        timeout: float | None = None,
        on_output: OutputCallback | None = None,
        cwd: str = WORKSPACE,
        env: Mapping[str, str] | None = None,
    ) -> ExecResult:
        """Run ``command`` with ``bash -c`` in a fresh shell (only files persist)."""
        ...

    def read_file(self, path: str) -> bytes: ...

    def write_file(self, path: str, data: bytes) -> None: ...

    def stop(self) -> None: ...

    def __enter__(self) -> Sandbox: ...

    def __exit__(self, *exc: object) -> None: ...


class Backend(Protocol):
    name: str

    def start(self, spec: SandboxSpec) -> Sandbox: ...

    def check(self) -> str | None:
        """None when usable, else a sentence saying what is missing and how to fix it."""
        ...

    def reap(self, is_run_alive: Callable[[str], bool], now: float | None = None) -> list[str]:
        """Remove sandboxes whose run is gone or that are past their deadline; return their ids."""
        ...
