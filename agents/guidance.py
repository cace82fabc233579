"""Read what a repository says about itself, inside the sandbox, in one command.

One ``exec`` rather than a read per file: on docker each round trip costs
tens of milliseconds, and most of these files do not exist.
"""

from __future__ import annotations

import shlex

from agents.sandbox.base import Sandbox
from agents.task import RepoGuidance

GUIDANCE_FILES = (
    "AGENTS.md",
    "CLAUDE.md",
    ".github/copilot-instructions.md",
    "CONTRIBUTING.md",
    "CONTRIBUTING.rst",
    "CONTRIBUTING",
    ".github/CONTRIBUTING.md",
    "README.md",
    "README.rst",
    "README.txt",
    "README",
)
# Folders shown but not entered: generated, vendored or tool state (.git is not shown at all).
PRUNED = (
    "node_modules",
    "__pycache__",
    ".venv",
    "venv",
    ".tox",
    ".mypy_cache",
    ".pytest_cache",
    "dist",
    "build",
)
MARK = "@@slipway@@"


def _script(depth: int, entries: int, chars: int) -> str:
    files = " ".join(shlex.quote(f) for f in GUIDANCE_FILES)
    prune = " -o ".join(f"-name {shlex.quote(p)}" for p in PRUNED)
    return f"""
found=0
for f in {files}; do
  if [ -f "$f" ]; then
    case "$f" in README*) [ "$found" = readme ] && continue; found=readme;; esac
    printf '\\n{MARK} file %s\\n' "$f"; head -c {chars} -- "$f"
  fi
done
printf '\\n{MARK} commit\\n'; git -c safe.directory='*' rev-parse HEAD 2>/dev/null
printf '\\n{MARK} tree\\n'
find . -mindepth 1 -maxdepth {depth} -name .git -prune -o \\( {prune} \\) -prune -printf '%y %P\\n' \\
  -o -printf '%y %P\\n' 2>/dev/null | LC_ALL=C sort -k2 | head -n {entries + 1}
"""


def gather_guidance(
    sandbox: Sandbox, *, depth: int = 2, entries: int = 200, chars: int = 4000
) -> RepoGuidance:
    done = sandbox.exec(_script(depth, entries, chars), timeout=60)
    files: dict[str, str] = {}
    commit: str | None = None
    tree_lines: list[str] = []
    for section in done.output.split(f"\n{MARK} ")[1:]:
        header, _, body = section.partition("\n")
        if header.startswith("file "):
            text = body.rstrip("\n")
            clipped = len(text.encode()) >= chars
            files[header[5:]] = text + ("\n[... cut ...]" if clipped else "")
        elif header == "commit":
            commit = body.strip() or None
        elif header == "tree":
            for line in body.splitlines():
                kind, _, path = line.partition(" ")
                if path:
                    tree_lines.append(path + "/" if kind == "d" else path)
    if len(tree_lines) > entries:
        tree_lines = [*tree_lines[:entries], f"[... more than {entries} entries ...]"]
    return RepoGuidance(files=files, tree="\n".join(tree_lines), commit=commit)
