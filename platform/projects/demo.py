"""The demo project: a small local git repository with one failing test."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

SOURCE = Path(__file__).resolve().parent / "demo"
TEST_COMMAND = "python3 -m pytest -q"


def create_demo_repository(dest: Path) -> Path:
    """Create (or keep) a git repository at ``dest`` holding the demo sources; return its path."""
    if (dest / ".git").exists():
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(SOURCE, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    env = {
        "GIT_AUTHOR_NAME": "Slipway Demo",
        "GIT_AUTHOR_EMAIL": "demo@slipway.local",
        "GIT_COMMITTER_NAME": "Slipway Demo",
        "GIT_COMMITTER_EMAIL": "demo@slipway.local",
        "HOME": str(dest),
        "GIT_CONFIG_NOSYSTEM": "1",
        "PATH": "/usr/bin:/bin",
    }
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "textstats: first version"]):
        subprocess.run(["git", *args], cwd=dest, env=env, check=True)
    return dest
