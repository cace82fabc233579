"""Sandbox costs against the bare tools and a peer, all measured in the same run.

(a) Life cycle: start a sandbox, run ``true``, stop it; against the bare tool
    running ``true`` (``bwrap ... true`` with the same namespaces and mounts
    but no exec server; ``docker run --rm IMAGE true``).
(b) One command in a running sandbox: ``true``, then ``cat`` of a 1 MB text
    file (the whole MB crosses to the caller: the output limit is raised for
    it); against ``docker exec``, mini-swe-agent's ``DockerEnvironment`` and
    a bare ``bash -c`` on the host (the floor).

    .venv/bin/python bench/sandbox.py [--rounds 30] [--exec-rounds 200] [--backends docker,bubblewrap] [--json PATH]

Prints a table, then the same figures as JSON on the last line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agents.sandbox import LABEL_RUN, Backend, SandboxLimits, SandboxSpec, get_backend  # noqa: E402

IMAGE = os.environ.get("SLIPWAY_SANDBOX_IMAGE", "slipway-sandbox:latest")
MEGABYTE_LINE = "0123456789abcdef" * 4 + "\n"  # 65 bytes


def measure(action: Callable[[], object], rounds: int, warmup: int = 3) -> dict[str, float]:
    for _ in range(warmup):
        action()
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples) * 1000, 2),
        "p95_ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.95))] * 1000, 2),
        "rounds": rounds,
    }


def run(*argv: str) -> None:
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)


def bare_bwrap(workspace: Path) -> list[str]:
    """bwrap with our sandbox's namespaces and mounts, running `true` instead of the exec server."""
    argv = [
        "bwrap",
        "--unshare-all",
        "--unshare-user",
        "--die-with-parent",
        "--new-session",
        "--ro-bind",
        "/usr",
        "/usr",
    ]
    for name in ("bin", "sbin", "lib", "lib64"):
        if Path(f"/{name}").is_symlink():
            argv += ["--symlink", os.readlink(f"/{name}"), f"/{name}"]
    argv += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--bind", str(workspace), "/workspace"]
    argv += ["--uid", "1000", "--gid", "1000", "--disable-userns", "--cap-drop", "ALL", "--remount-ro", "/"]
    return [*argv, "--", "/usr/bin/true"]


def lifecycle(backend: Backend, workspace: Path, rounds: int) -> dict[str, Any]:
    def ours() -> None:
        with backend.start(SandboxSpec(workspace=workspace, image=IMAGE, labels={LABEL_RUN: "bench"})) as box:
            box.exec("true")

    if backend.name == "docker":
        bare_name, bare = (
            "docker run --rm IMAGE true",
            ["docker", "run", "--rm", "--network", "none", IMAGE, "true"],
        )
    else:
        bare_name, bare = "bwrap ... true", bare_bwrap(workspace)
    return {
        "ours": measure(ours, rounds),
        "bare": measure(lambda: run(*bare), rounds),
        "bare_tool": bare_name,
    }


def exec_costs(backend: Backend, workspace: Path, rounds: int) -> dict[str, Any]:
    limits = SandboxLimits(output_limit=2 * 1024 * 1024)
    spec = SandboxSpec(workspace=workspace, image=IMAGE, limits=limits, labels={LABEL_RUN: "bench"})
    with backend.start(spec) as box:
        assert len(box.exec("cat /workspace/1mb.txt").output) == 1024 * 1024
        figures = {
            "true": measure(lambda: box.exec("true"), rounds),
            "cat 1 MB": measure(lambda: box.exec("cat /workspace/1mb.txt"), rounds),
        }
        if backend.name == "docker":
            container = box.id  # type: ignore[attr-defined]
            figures["docker exec true"] = measure(
                lambda: run("docker", "exec", container, "true"), rounds // 4
            )
            figures["docker exec cat 1 MB"] = measure(
                lambda: run("docker", "exec", container, "cat", "/workspace/1mb.txt"), rounds // 4
            )
    return figures


def mini_swe_agent(rounds: int) -> dict[str, Any]:
    from minisweagent.environments.docker import DockerEnvironment

    env = DockerEnvironment(image=IMAGE, cwd="/", run_args=["--rm", "--network", "none"])
    try:
        env.execute({"command": f"yes {MEGABYTE_LINE.strip()} | head -c {1024 * 1024} > /tmp/1mb.txt"})
        return {
            "true": measure(lambda: env.execute({"command": "true"}), rounds),
            "cat 1 MB": measure(lambda: env.execute({"command": "cat /tmp/1mb.txt"}), rounds),
        }
    finally:
        subprocess.run(["docker", "rm", "-f", env.container_id], capture_output=True)


def host_floor(workspace: Path, rounds: int) -> dict[str, Any]:
    big = str(workspace / "1mb.txt")
    return {
        "true": measure(lambda: subprocess.run(["bash", "-c", "true"]), rounds),
        "cat 1 MB": measure(
            lambda: subprocess.run(["bash", "-c", f"cat {big}"], capture_output=True), rounds
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30, help="start/stop rounds per backend")
    parser.add_argument("--exec-rounds", type=int, default=200, help="commands per measurement")
    parser.add_argument("--backends", default="docker,bubblewrap")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="slipway-bench-sandbox-"))
    workspace = folder / "workspace"
    workspace.mkdir()
    (workspace / "1mb.txt").write_text(
        (MEGABYTE_LINE * (1024 * 1024 // len(MEGABYTE_LINE) + 1))[: 1024 * 1024]
    )
    results: dict[str, Any] = {"benchmark": "sandbox", "image": IMAGE, "lifecycle": {}, "exec": {}}
    try:
        results["exec"]["host bash -c"] = host_floor(workspace, args.exec_rounds)
        for name in args.backends.split(","):
            options = {"image": IMAGE} if name == "docker" else {"state_dir": folder / "state"}
            backend = get_backend(name, **options)
            problem = backend.check()
            if problem:
                raise SystemExit(f"{name}: {problem}")
            results["lifecycle"][name] = lifecycle(backend, workspace, args.rounds)
            results["exec"][name] = exec_costs(backend, workspace, args.exec_rounds)
        if "docker" in args.backends:
            results["exec"]["mini-swe-agent DockerEnvironment"] = mini_swe_agent(
                max(args.exec_rounds // 4, 20)
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    report(results)
    line = json.dumps(results)
    if args.json:
        args.json.write_text(line + "\n")
    print(line)


def report(results: dict[str, Any]) -> None:
    print("(a) start + exec `true` + stop")
    print(f"{'backend':<12} {'ours p50':>10} {'p95':>9} {'bare tool':<28} {'p50':>9} {'p95':>9} {'ratio':>7}")
    for name, row in results["lifecycle"].items():
        ours, bare = row["ours"], row["bare"]
        ratio = ours["p50_ms"] / bare["p50_ms"]
        print(
            f"{name:<12} {ours['p50_ms']:>8.1f}ms {ours['p95_ms']:>7.1f}ms {row['bare_tool']:<28}"
            f" {bare['p50_ms']:>7.1f}ms {bare['p95_ms']:>7.1f}ms {ratio:>6.2f}x"
        )
    floor = results["exec"]["host bash -c"]
    print("\n(b) one command in a running sandbox (ratio: p50 against a bare `bash -c` on the host)")
    print(f"{'who':<36} {'command':<22} {'p50':>9} {'p95':>9} {'ratio':>7}")
    for who, rows in results["exec"].items():
        for command, row in rows.items():
            base = floor["cat 1 MB" if "cat" in command else "true"]["p50_ms"]
            print(
                f"{who:<36} {command:<22} {row['p50_ms']:>7.2f}ms {row['p95_ms']:>7.2f}ms {row['p50_ms'] / base:>6.2f}x"
            )


if __name__ == "__main__":
    main()
