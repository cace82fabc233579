"""On-disk records of bubblewrap sandboxes, so a reaper in another process can find them.

Docker keeps labels for us; a bubblewrap sandbox is only a process tree, so the
backend writes one JSON file per sandbox into a state directory: its pids (with
their start times, so a recycled pid is never killed), labels and deadline.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from agents.sandbox.base import SandboxError


@dataclass
class Record:
    id: str
    pid: int
    """The outermost process (bwrap, or the unshare that becomes it)."""
    pid_started: int
    child_pid: int = 0
    """The sandbox's own init, in the host's pid namespace: killing it ends every process inside."""
    child_started: int = 0
    labels: dict[str, str] = field(default_factory=dict)
    deadline: float = float("inf")
    scratch: str = ""
    """A host directory of the sandbox's own (mount points, log), removed with it."""

    def alive(self) -> bool:
        return started_at(self.pid) == self.pid_started or (
            self.child_pid > 0 and started_at(self.child_pid) == self.child_started
        )


def default_state_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"slipway-sandboxes-{os.geteuid()}"


def open_state_dir(path: Path) -> Path:
    """Create the state directory, refusing one that another user could have planted."""
    path.mkdir(mode=0o755, parents=True, exist_ok=True)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise SandboxError(
            f"the sandbox state directory {path} is not a directory of ours that only we can write"
        )
    return path


def save(state_dir: Path, record: Record) -> None:
    temp = state_dir / f".{record.id}.json.tmp"
    temp.write_text(json.dumps(asdict(record)))
    temp.replace(state_dir / f"{record.id}.json")  # a reader never sees half a record


def load_all(state_dir: Path) -> list[Record]:
    records = []
    for path in sorted(state_dir.glob("*.json")):
        try:
            records.append(Record(**json.loads(path.read_text())))
        except (OSError, ValueError, TypeError):
            continue  # removed meanwhile, or not ours
    return records


def forget(state_dir: Path, record_id: str) -> None:
    (state_dir / f"{record_id}.json").unlink(missing_ok=True)


def started_at(pid: int) -> int:
    """The start time of process ``pid`` in clock ticks since boot, or -1 when there is none."""
    try:
        data = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return -1
    fields = data[data.rindex(b")") + 2 :].split()
    if fields[0] == b"Z":
        return -1  # a zombie is as good as gone
    return int(fields[19])
