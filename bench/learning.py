"""The learning loop's costs: exporting runs as datasets, and grading evaluation tasks.

**export**: 10,000 finished runs (realistic trajectories, about 16 KB of JSON
each) are seeded into a throwaway PostgreSQL database; then each export size
(1,000 / 2,500 / 5,000 / 10,000 runs, picked by the period filter) runs in a
fresh process through ``evals.exporting.Lines``, the code behind the page, the
background job and ``manage.py export_runs``, writing a real file. For each:
wall time, runs per second, the process's peak RSS, and its growth over the
export (peak RSS minus RSS before the first row). Flat growth across sizes is
the constant-memory claim.

**grading**: K tasks (default 10) over a generated repository, each a bug with
a hidden test (SWE-bench style: test_patch, FAIL_TO_PASS, PASS_TO_PASS). For
each, the real agent loop fixes it with the scripted model (a real HTTP server)
in a docker sandbox on a fresh workspace at the base commit, then
``agents.evaluation.grade`` grades its patch in another fresh workspace and
sandbox, as ``evals.grading`` does. Reported: seconds per task for the agent
and for grading, and tasks graded per minute (grading alone, and agent plus
grading), one task at a time as one worker slot does.

    .venv/bin/python bench/learning.py [export|grading|all] [--runs 10000] [--repeat 3] [--tasks 10] [--backend docker] [--keep-db]

Prints tables, then the figures as one JSON line.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]

BENCH_DB = "slipway_bench_learning"
SIZES = (1000, 2500, 5000, 10000)
DAY0 = date(2025, 1, 1)


# -- export ----------------------------------------------------------------------------------


def database_url() -> str:
    base = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    return base.rsplit("/", 1)[0] + f"/{BENCH_DB}"


def django_setup() -> None:
    os.environ["DATABASE_URL"] = database_url()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def create_database(drop: bool) -> None:
    import psycopg

    admin = database_url().rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone()
        if exists and drop:
            conn.execute(f'DROP DATABASE "{BENCH_DB}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')


def drop_database() -> None:
    import psycopg

    admin = database_url().rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')


def trajectory(n: int) -> dict[str, Any]:
    """About 16 KB of JSON: a plan, 12 tool calls with their observations, a submit."""

    def call(i: int, name: str, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": f"call_{n}_{i}",
            "type": "function",
            "function": {"name": name, "arguments": json.dumps(args)},
        }

    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "You are a careful software engineer working in a sandbox. " * 20},
        {
            "role": "user",
            "content": f"Task {n}: fix the failing test in module_{n % 97}.py. " + "Context. " * 150,
        },
        {"role": "assistant", "content": "1. Read the code.\n2. Fix it.\n3. Run the tests.\n4. Submit."},
    ]
    for i in range(12):
        name = ("view_file", "bash", "edit_file", "run_tests")[i % 4]
        args = {"path": f"module_{n % 97}.py"} if name != "bash" else {"command": f"grep -rn thing_{i} ."}
        messages.append({"role": "assistant", "content": None, "tool_calls": [call(i, name, args)]})
        messages.append(
            {"role": "tool", "tool_call_id": f"call_{n}_{i}", "content": f"line {i}: value = {n * i}\n" * 40}
        )
    messages.append(
        {"role": "assistant", "content": None, "tool_calls": [call(99, "submit", {"summary": "Fixed."})]}
    )
    messages.append({"role": "tool", "tool_call_id": f"call_{n}_99", "content": "Submitted."})
    tools = [
        {"type": "function", "function": {"name": t, "description": t, "parameters": {"type": "object"}}}
        for t in ("view_file", "bash", "edit_file", "run_tests", "submit")
    ]
    return {"messages": messages, "tools": tools, "reward": None, "metadata": {"format": "slipway-trajectory/1", "steps": [{"index": i, "seconds": 0.5} for i in range(14)]}}  # fmt: skip


def day_of(n: int) -> date:
    """Runs 0-999 finished on day 0, up to 2,499 on day 1, ...: the period filter picks each size."""
    return DAY0 + timedelta(days=next(i for i, size in enumerate(SIZES) if n < size))


def seed(runs: int) -> int:
    """The bench team's id, with ``runs`` finished runs (made once, kept between invocations)."""
    from decimal import Decimal

    from django.contrib.auth.models import User
    from django.core.management import call_command

    from accounts.models import Membership, Team
    from intents.models import Intent, Status
    from projects.models import Project
    from runs.models import AgentRun, ModelConfig, RunStatus

    call_command("migrate", verbosity=0)
    team = Team.objects.filter(slug="bench").first()
    if team is not None and AgentRun.objects.filter(team=team).count() >= runs:
        return team.pk
    AgentRun.objects.all().delete()
    Intent.objects.all().delete()
    user, _ = User.objects.get_or_create(username="bench")
    team, _ = Team.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    Membership.objects.get_or_create(team=team, user=user, defaults={"role": "owner"})
    project, _ = Project.objects.get_or_create(team=team, name="bench", defaults={"repo_url": "/tmp/none"})
    config = ModelConfig.objects.filter(team=team, name="bench").first() or ModelConfig(
        team=team, name="bench", model="bench"
    )
    config.set_api_key("sk-bench-secret-0123456789")
    config.save()
    started = time.monotonic()
    batch = 500
    for first in range(0, runs, batch):
        numbers = range(first, min(first + batch, runs))
        intents = Intent.objects.bulk_create(
            Intent(team=team, project=project, title=f"Task {n}", status=Status.IN_REVIEW, author=user)
            for n in numbers
        )
        AgentRun.objects.bulk_create(
            AgentRun(
                intent=intent,
                team=team,
                project=project,
                status=RunStatus.DONE,
                outcome="submitted",
                model=config,
                model_name="bench",
                resolved=n % 3 != 0,
                reward={"resolved": n % 3 != 0, "score": float(n % 3 != 0)},
                trajectory=trajectory(n),
                diff=f"diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -1 +1 @@\n-a\n+b{n}\n",
                cost=Decimal("0.01"),
                prompt_tokens=20_000,
                completion_tokens=2_000,
                finished_at=datetime.combine(day_of(n), datetime.min.time(), tzinfo=UTC)
                + timedelta(seconds=n),
            )  # fmt: skip
            for n, intent in zip(numbers, intents, strict=True)
        )
    print(f"seeded {runs} runs in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return team.pk


def status_mb(field: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process, in MB. Not ru_maxrss: Linux carries
    that across exec from the parent, which seeded the database and is much bigger."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def export_child(team_id: int, size: int, fmt: str) -> dict[str, Any]:
    """One export in this (fresh) process: time, lines, bytes, and memory."""
    django_setup()
    from evals.exporting import Filters, Lines

    until = day_of(size - 1)
    lines = Lines(team_id, Filters(until=until), fmt)
    before = status_mb("VmRSS")
    with tempfile.NamedTemporaryFile("wb", suffix=".jsonl") as out:
        started = time.monotonic()
        written = 0
        for line in lines:
            out.write(line)
            written += len(line)
        seconds = time.monotonic() - started
    peak = status_mb("VmHWM")
    return {
        "format": fmt, "runs": lines.written, "seconds": round(seconds, 2), "runs_per_second": round(lines.written / seconds),
        "mb_written": round(written / 1e6, 1), "rss_before_mb": round(before, 1), "peak_rss_mb": round(peak, 1),
        "growth_mb": round(peak - before, 1),
    }  # fmt: skip


def bench_export(runs: int, keep: bool, repeat: int) -> list[dict[str, Any]]:
    create_database(drop=False)
    django_setup()
    team_id = seed(runs)
    from django.db import connections

    connections.close_all()
    results = []
    plan = [(size, "openai") for size in SIZES if size <= runs] + [(runs, "trl"), (runs, "swebench")]
    for size, fmt in plan:
        rounds = []
        for _ in range(repeat):
            done = subprocess.run(
                [sys.executable, __file__, "export-child", "--team", str(team_id), "--size", str(size), "--format", fmt],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            rounds.append(json.loads(done.stdout.strip().splitlines()[-1]))
        median = sorted(rounds, key=lambda r: r["seconds"])[len(rounds) // 2]
        results.append(
            median
            | {
                "peak_rss_mb": max(r["peak_rss_mb"] for r in rounds),
                "growth_mb": max(r["growth_mb"] for r in rounds),
            }
        )
    print(f"\nExport (a fresh process each, a real file written; median time of {repeat}, largest memory)")
    print("| format | runs | time | runs/s | MB written | peak RSS | RSS growth |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        print(
            f"| {r['format']} | {r['runs']:,} | {r['seconds']:.2f} s | {r['runs_per_second']:,} | {r['mb_written']} | {r['peak_rss_mb']} MB | {r['growth_mb']} MB |"
        )
    if not keep:
        drop_database()
    return results


# -- grading ---------------------------------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "b",
        "GIT_AUTHOR_EMAIL": "b@b",
        "GIT_COMMITTER_NAME": "b",
        "GIT_COMMITTER_EMAIL": "b@b",
    }
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env
    ).stdout


def make_tasks(folder: Path, count: int) -> tuple[Path, list[Any]]:
    """A repository with ``count`` buggy functions, and one SWE-bench instance per bug."""
    from agents.instances import Instance

    repo = folder / "repo"
    (repo / "tests").mkdir(parents=True)
    code = "".join(f"def f{i}(a, b):\n    return a + b + 1\n\n\n" for i in range(count))
    (repo / "funcs.py").write_text(code)
    (repo / "conftest.py").write_text("")
    base_tests = "from funcs import f0\n\n\ndef test_base():\n    assert callable(f0)\n"
    (repo / "tests" / "test_funcs.py").write_text(base_tests)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    base = git(repo, "rev-parse", "HEAD").strip()
    instances = []
    for i in range(count):
        (repo / "tests" / "test_funcs.py").write_text(
            base_tests + f"\n\ndef test_f{i}():\n    from funcs import f{i}\n\n    assert f{i}(2, 3) == 5\n"
        )
        test_patch = git(repo, "diff")
        git(repo, "checkout", "-q", "--", ".")
        instances.append(
            Instance(
                instance_id=f"bench__funcs-{i}",
                repo="bench/funcs",
                base_commit=base,
                problem_statement=f"f{i}() is off by one.",
                test_patch=test_patch,
                fail_to_pass=(f"tests/test_funcs.py::test_f{i}",),
                pass_to_pass=("tests/test_funcs.py::test_base",),
            )  # fmt: skip
        )
    return repo, instances


def bench_grading(count: int, backend_name: str) -> dict[str, Any]:
    from agents.config import AgentConfig, ModelConfig
    from agents.evaluation import grade
    from agents.llm import make_model
    from agents.loop import run_agent
    from agents.sandbox import get_backend
    from agents.sandbox.base import SandboxSpec
    from agents.task import Task
    from agents.workspace import MirrorCache, prepare_workspace
    from tests.support import Dynamic, ModelServer, submit, text, tool

    def fixer(request: Any) -> Any:
        turn = sum(1 for m in request.messages if m.get("role") == "assistant")
        found = re.search(r"f(\d+)\(\) is off by one", request.text)
        i = int(found.group(1)) if found else 0
        old = f"def f{i}(a, b):\n    return a + b + 1"
        steps = [
            text("1. Fix it. 2. Submit."),
            tool("edit_file", path="funcs.py", old_text=old, new_text=old[:-4]),
            submit("Fixed."),
        ]
        return steps[min(turn, 2)]

    image = os.environ.get("SLIPWAY_SANDBOX_IMAGE", "slipway-sandbox:latest")
    backend = get_backend(backend_name, **({"image": image} if backend_name == "docker" else {}))
    agent_times, grade_times, statuses = [], [], []
    with tempfile.TemporaryDirectory() as folder, ModelServer(*[Dynamic(fixer)] * (count * 5)) as server:
        repo, instances = make_tasks(Path(folder), count)
        mirror = MirrorCache(Path(folder) / "mirrors").ensure(str(repo), "bench", allow_local=True)
        model = make_model(ModelConfig(model="scripted", base_url=server.openai_base_url))
        for n, instance in enumerate(instances):
            started = time.monotonic()
            workspace = prepare_workspace(
                mirror, Path(folder) / f"run-{n}", base=instance.base_commit, branch=f"slipway/{n}"
            )
            spec = SandboxSpec(workspace=workspace.path, readonly_mounts=workspace.readonly_mounts)
            with backend.start(spec) as sandbox:
                task = Task(
                    title=f"Eval {instance.instance_id}",
                    description=instance.problem_statement,
                    test_command="python3 -m pytest -q",
                )
                result = run_agent(task, sandbox=sandbox, model=model, config=AgentConfig())
            patch = workspace.diff(instance.base_commit)
            workspace.cleanup()
            agent_times.append(time.monotonic() - started)
            if result.outcome != "submitted":
                raise SystemExit(f"the agent did not submit task {n}: {result.reason}")
            started = time.monotonic()
            fresh = prepare_workspace(
                mirror, Path(folder) / f"grade-{n}", base=instance.base_commit, branch=f"slipway/grade/{n}"
            )
            spec = SandboxSpec(workspace=fresh.path, readonly_mounts=fresh.readonly_mounts)
            graded = grade(instance, patch, fresh, lambda spec=spec: backend.start(spec), timeout=300)
            fresh.cleanup()
            grade_times.append(time.monotonic() - started)
            statuses.append(graded.status)
    agent, grading = statistics.median(agent_times), statistics.median(grade_times)
    figures = {
        "backend": backend_name, "tasks": count, "resolved": statuses.count("resolved"),
        "agent_seconds_per_task": round(agent, 2), "grading_seconds_per_task": round(grading, 2),
        "graded_per_minute": round(60 / grading, 1), "end_to_end_per_minute": round(60 / (agent + grading), 1),
    }  # fmt: skip
    print(f"\nGrading ({backend_name}, {count} tasks, one at a time; medians)")
    print("| backend | resolved | agent run / task | grading / task | graded / min | agent + grading / min |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    print(
        f"| {backend_name} | {figures['resolved']}/{count} | {agent:.2f} s | {grading:.2f} s | {figures['graded_per_minute']} | {figures['end_to_end_per_minute']} |"
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "what", nargs="?", default="all", choices=["all", "export", "grading", "export-child"]
    )
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--backend", action="append", help="sandbox backend(s) for grading (default: docker)")
    parser.add_argument("--repeat", type=int, default=3, help="exports per size (the median time is shown)")
    parser.add_argument(
        "--keep-db", action="store_true", help="keep the seeded database for the next invocation"
    )
    parser.add_argument("--team", type=int)
    parser.add_argument("--size", type=int)
    parser.add_argument("--format", default="openai")
    args = parser.parse_args()
    if args.what == "export-child":
        print(json.dumps(export_child(args.team, args.size, args.format)))
        return
    figures: dict[str, Any] = {}
    logging.disable(logging.INFO)  # Django's settings would log every model request of the grading run
    if args.what in ("all", "export"):
        figures["export"] = bench_export(args.runs, args.keep_db, args.repeat)
    if args.what in ("all", "grading"):
        figures["grading"] = [bench_grading(args.tasks, name) for name in args.backend or ["docker"]]
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
