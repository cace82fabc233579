"""The agent loop's own overhead per step, against the model call and the tool calls themselves.

A scripted model with no latency (a real HTTP server on localhost) drives the
real loop in a real sandbox over a real git repository; each step's time,
from the trajectory, splits into the model call (client, HTTP and the scripted
server), the tool calls (the sandbox), and what is left: the loop itself
(history, events, redaction, context estimate, bookkeeping).

    .venv/bin/python bench/agent_loop.py [--steps 60] [--runs 3] [--backend bubblewrap] [--stream|--no-stream]

Prints a table, then the same figures as JSON on the last line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agents.config import AgentConfig, ModelConfig  # noqa: E402
from agents.events import Event  # noqa: E402
from agents.llm import make_model  # noqa: E402
from agents.loop import run_agent  # noqa: E402
from agents.sandbox import get_backend  # noqa: E402
from agents.sandbox.base import SandboxSpec  # noqa: E402
from agents.task import Task  # noqa: E402
from tests.support import ModelServer, submit, tool  # noqa: E402

TOOLS = {
    "bash": lambda n: tool("bash", command="true"),
    "view_file": lambda n: tool("view_file", path="calc.py"),
    "edit_file": lambda n: tool(
        "edit_file", path="notes.txt", old_text=f"line {n}\n", new_text=f"line {n + 1}\n"
    ),
}


def make_repo(folder: Path) -> Path:
    repo = folder / "repo"
    repo.mkdir()
    (repo / "calc.py").write_text("def add(a, b):\n    return a + b\n" * 20)
    (repo / "notes.txt").write_text("line 0\n")
    (repo / "README.md").write_text("# Bench\n")
    for args in (
        ["init", "-q"],
        ["add", "-A"],
        ["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "x"],
    ):
        subprocess.run(["git", "-C", str(repo), *args], check=True)
    return repo


def json_sink(event: Event) -> None:
    """What the platform pays at least: every payload serialised."""
    json.dumps(event.payload)


def one_run(backend_name: str, steps: int, kind: str, stream: bool) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as folder:
        repo = make_repo(Path(folder))
        script = [TOOLS[kind](n) for n in range(steps)] + [submit("done")]
        with (
            ModelServer(*script) as server,
            get_backend(backend_name).start(SandboxSpec(workspace=repo)) as sandbox,
        ):
            model = make_model(ModelConfig(model="scripted", base_url=server.openai_base_url, stream=stream))
            config = AgentConfig(plan=False, run_baseline=False, run_final=False, max_steps=steps + 5)
            result = run_agent(
                Task(title="bench"), sandbox=sandbox, model=model, config=config, sink=json_sink
            )
        if result.outcome != "submitted":
            raise SystemExit(f"bench run ended {result.outcome}: {result.reason}")
        return result.trajectory.steps[:-1]  # the submit step has no tool call to time


def summarise(records: list[dict[str, Any]]) -> dict[str, float]:
    def ms(values: list[float]) -> float:
        return round(statistics.median(values) * 1000, 3)

    def p95(values: list[float]) -> float:
        return round(sorted(values)[int(len(values) * 0.95) - 1] * 1000, 3)

    total = [r["seconds"] for r in records]
    model = [r["model_seconds"] for r in records]
    tools = [r["tool_seconds"] for r in records]
    loop = [max(0.0, r["seconds"] - r["model_seconds"] - r["tool_seconds"]) for r in records]
    return {
        "steps": len(records),
        "step_ms": ms(total),
        "model_call_ms": ms(model),
        "tool_call_ms": ms(tools),
        "loop_overhead_ms": ms(loop),
        "loop_overhead_p95_ms": p95(loop),
        "loop_share_of_step": round(statistics.median(loop) / statistics.median(total), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backend", default="bubblewrap")
    parser.add_argument("--stream", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()

    rows = {}
    for kind in TOOLS:
        records: list[dict[str, Any]] = []
        for _ in range(args.runs):
            records += one_run(args.backend, args.steps, kind, args.stream)
        rows[kind] = summarise(records)

    header = f"{'tool':<10} {'steps':>6} {'step ms':>9} {'model ms':>9} {'tool ms':>9} {'loop ms':>9} {'loop p95':>9} {'loop %':>7}"
    print(
        f"agent loop overhead per step ({args.backend} sandbox, {'streamed' if args.stream else 'whole'} replies, medians)"
    )
    print(header)
    for kind, row in rows.items():
        print(
            f"{kind:<10} {row['steps']:>6} {row['step_ms']:>9.2f} {row['model_call_ms']:>9.2f} {row['tool_call_ms']:>9.2f} "
            f"{row['loop_overhead_ms']:>9.2f} {row['loop_overhead_p95_ms']:>9.2f} {row['loop_share_of_step'] * 100:>6.1f}%"
        )
    print(
        json.dumps({"benchmark": "agent_loop", "backend": args.backend, "stream": args.stream, "rows": rows})
    )


if __name__ == "__main__":
    main()
