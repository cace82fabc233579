"""Preparing a workspace for a big repository, against a plain full clone measured in the same run.

The repository (20,000 files, 5,000 commits by default) is generated with
``git fast-import`` and cached under /tmp between runs. Its mirror is made once
(``MirrorCache.ensure``); then each round times:

- ``prepare_workspace`` adopting a spare checkout (``MirrorCache.stock``, made
  untimed before the round, as a worker does after a run): what a run pays;
- ``prepare_workspace`` with no spare (a cold mirror): a shared clone and a full checkout;
- ``git clone --no-local``: a full clone through git's pack protocol, what a
  fresh clone of the remote costs without the network;
- ``git clone`` of a local path (objects hard-linked): a full clone's floor.

    .venv/bin/python bench/workspace.py [--files 20000] [--commits 5000] [--rounds 5] [--dir DIR] [--json PATH]

Prints a table, then the same figures as JSON on the last line.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agents.workspace import MirrorCache, prepare_workspace  # noqa: E402

CACHE = Path(tempfile.gettempdir()) / "slipway-bench"


def generate(files: int, commits: int) -> Path:
    """A bare repository of ``files`` files and ``commits`` commits, made once and cached."""
    repo = CACHE / f"big-{files}x{commits}.git"
    if (repo / "refs" / "heads" / "main").exists() or (repo / "packed-refs").exists():
        return repo
    shutil.rmtree(repo, ignore_errors=True)
    repo.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(repo)], check=True)
    importer = subprocess.Popen(["git", "-C", str(repo), "fast-import", "--quiet"], stdin=subprocess.PIPE)
    assert importer.stdin is not None
    write = importer.stdin.write
    mark = 0
    for number in range(commits):
        # The first commit adds every file; each later one changes four of them.
        paths = range(files) if number == 0 else [(number * 7919 + k * 104729) % files for k in range(4)]
        changes = []
        for path in paths:
            mark += 1
            body = b"".join(b"line %d of file %d, commit %d\n" % (i, path, number) for i in range(20))
            write(b"blob\nmark :%d\ndata %d\n%s\n" % (mark, len(body), body))
            changes.append(
                b"M 100644 :%d src/pkg%d/mod%d/file%d.py\n" % (mark, path % 50, path // 50 % 20, path)
            )
        message = b"commit %d\n" % number
        write(
            b"commit refs/heads/main\ncommitter Bench <bench@example.com> %d +0000\n"
            % (1_700_000_000 + number)
        )
        write(b"data %d\n%s%s\n" % (len(message), message, b"".join(changes)))
    importer.stdin.close()
    if importer.wait() != 0:
        raise SystemExit("git fast-import failed")
    subprocess.run(["git", "-C", str(repo), "repack", "-adq"], check=True)
    return repo


def timed(function: Any, *args: Any, **kwargs: Any) -> float:
    started = time.perf_counter()
    function(*args, **kwargs)
    return time.perf_counter() - started


def git_clone(*args: str) -> None:
    subprocess.run(["git", "clone", "-q", *args], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--commits", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--dir", type=Path, default=CACHE, help="where mirrors and workspaces go (e.g. a tmpfs)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    started = time.perf_counter()
    source = generate(args.files, args.commits)
    generated = time.perf_counter() - started
    samples: dict[str, list[float]] = {
        "prepare (spare)": [],
        "prepare (cold)": [],
        "git clone --no-local": [],
        "git clone (local)": [],
    }
    args.dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="slipway-bench-", dir=args.dir) as folder:
        work = Path(folder)
        cache = MirrorCache(work / "mirrors")
        mirror_time = timed(cache.ensure, str(source), "big", allow_local=True)
        mirror = cache.mirror_path("big")
        for number in range(args.rounds):
            # Interleaved, so a slow spell of the disk hits every contender alike.
            cache.stock("big")
            warm, cold = work / f"warm-{number}", work / f"cold-{number}"
            clone, local = work / f"clone-{number}", work / f"local-{number}"
            branch = f"slipway/{number}-bench/1"
            samples["prepare (spare)"].append(
                timed(prepare_workspace, mirror, warm, base="main", branch=branch)
            )
            samples["prepare (cold)"].append(
                timed(prepare_workspace, mirror, cold, base="main", branch=branch)
            )
            samples["git clone --no-local"].append(timed(git_clone, "--no-local", str(source), str(clone)))
            samples["git clone (local)"].append(timed(git_clone, str(source), str(local)))
            for path in (
                warm,
                warm.with_name(warm.name + ".git"),
                cold,
                cold.with_name(cold.name + ".git"),
                clone,
                local,
            ):
                shutil.rmtree(path)

    ours = statistics.median(samples["prepare (spare)"])
    figures: dict[str, Any] = {
        "benchmark": "workspace",
        "files": args.files,
        "commits": args.commits,
        "rounds": args.rounds,
        "dir": str(args.dir),
        "generate_s": round(generated, 2),
        "mirror_s": round(mirror_time, 2),
        "results": {
            name: {
                "p50_s": round(statistics.median(values), 3),
                "min_s": round(min(values), 3),
                "max_s": round(max(values), 3),
                "vs_spare": round(statistics.median(values) / ours, 1),
                "vs_cold": round(statistics.median(values) / statistics.median(samples["prepare (cold)"]), 1),
            }
            for name, values in samples.items()
        },
    }
    print(
        f"repository: {args.files} files, {args.commits} commits ({source}); mirror made in {mirror_time:.2f} s"
    )
    print(f"{'method':<22} {'p50':>8} {'min':>8} {'max':>8} {'/ spare':>8} {'/ cold':>8}")
    for name, row in figures["results"].items():
        print(
            f"{name:<22} {row['p50_s']:>7.3f}s {row['min_s']:>7.3f}s {row['max_s']:>7.3f}s"
            f" {row['vs_spare']:>7.1f}x {row['vs_cold']:>7.1f}x"
        )
    line = json.dumps(figures)
    if args.json:
        args.json.write_text(line + "\n")
    print(line)


if __name__ == "__main__":
    main()
