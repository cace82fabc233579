"""The platform's cost on top of the agent: the same runs through the CLI and through the pipeline, in turns.

A zero-latency scripted model (a real HTTP server on loopback) fixes the demo
repository's failing test, ``--intents`` times through the agent CLI alone
(``agents.cli.main``, in process, bubblewrap sandbox) and as many times as
intents filed and queued on a throwaway database, run by one real Celery worker
(concurrency 1), in turns of ``--block`` runs each; the product's way: mirror,
workspace, sandbox, agent, event rows published to Redis, snapshots, commit,
branch push, change request. Also: the event sink's own cost (a RunEvent row
written and published), and the worker's peak memory with 1 and with 8
concurrent runs (sandbox processes excluded).

    .venv/bin/python bench/pipeline.py [--intents 50] [--block 10] [--json results.json]

Prints a table, then the figures as JSON on the last line.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]
BENCH_DB = "slipway_bench_pipeline"
os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{BENCH_DB}"
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["SLIPWAY_ALLOW_LOCAL_REPOS"] = "1"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def fresh_database() -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(BENCH_DB)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(BENCH_DB)))


def cli_runs(n: int, base_url: str, work: Path, first: int = 0) -> list[float]:
    from agents.cli import main
    from projects.demo import TEST_COMMAND, create_demo_repository

    durations = []
    for i in range(first, first + n):
        repo = create_demo_repository(work / f"cli-{i}")
        argv = ["run", "--repo", str(repo), "--intent", "Fix word_count", "--test-cmd", TEST_COMMAND,
                "--model", "scripted", "--base-url", base_url, "--sandbox", "bubblewrap",
                "--out", str(work / f"cli-{i}.jsonl")]
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            code = main(argv)
        durations.append(time.perf_counter() - started)
        if code != 0:
            raise SystemExit(f"CLI run {i} did not resolve the task (exit {code})")
    return durations


def sink_cost(run: Any, events: int = 2000) -> dict[str, float]:
    """The worker's sink: what the agent waits for per event, and the amortised cost of each
    RunEvent row written and published (the latency a browser sees is in bench/stream.py)."""
    from agents.events import Event
    from runs.recorder import EventRecorder

    recorder = EventRecorder(run)
    enqueue = []
    started = time.perf_counter()
    for i in range(events):
        began = time.perf_counter()
        recorder(Event("tool_result", {"id": f"c{i}", "name": "bash", "output": "ok\n" * 20, "exit_code": 0}))
        enqueue.append(time.perf_counter() - began)
    recorder.close()
    total = time.perf_counter() - started
    return {
        "enqueue_ms_p50": percentile(enqueue, 0.5) * 1000,
        "enqueue_ms_p95": percentile(enqueue, 0.95) * 1000,
        "written_and_published_ms_amortised": total / events * 1000,
    }


def tree_rss(pgid: int) -> int:
    """Proportional memory (PSS, bytes) of the worker's Python processes; sandboxes left out.

    PSS, not RSS: prefork children share the parent's pages copy-on-write, and RSS
    would count every shared page once per child.
    """
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[2]) != pgid:
                continue
            if b"celery" not in (entry / "cmdline").read_bytes():
                continue
            for line in (entry / "smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
        except (OSError, ValueError):
            continue
    return total


@contextlib.contextmanager
def platform(concurrency: int, data: Path) -> Iterator[Any]:
    """As `make run` runs it: the agents worker, and a housekeeper on the default queue (spare workspaces)."""
    from tests.support.platform import celery_worker, wait_for

    with celery_worker(data, concurrency=concurrency, queues="agents", SLIPWAY_SANDBOX_BACKEND="bubblewrap",
                       SLIPWAY_HEARTBEAT_SECONDS="5") as worker, \
            celery_worker(data, concurrency=1, queues="default", SLIPWAY_SANDBOX_BACKEND="bubblewrap"):
        wait_for(lambda: tree_rss(worker.pid) > 0 and worker.log_path.read_text().count("ready") >= 1, what="the worker")
        time.sleep(1)  # let the pool settle before the idle reading
        yield worker


def platform_runs(worker: Any, n: int, setup: dict[str, Any], *, sample_memory: bool) -> dict[str, Any]:
    """Run ``n`` intents through the worker. Memory is sampled only when asked: reading
    ``smaps_rollup`` of every worker process 20 times a second costs CPU the runs then lack."""
    from intents.actions import do_file_intent
    from intents.models import Intent, Status
    from runs.models import AgentRun, RunStatus
    from tests.support.platform import wait_for

    project, alice = setup["project"], setup["alice"]
    idle = tree_rss(worker.pid) if sample_memory else 0
    peak = 0
    started = time.perf_counter()
    intents = [do_file_intent(project, alice, Intent(title=f"Fix word_count {i}"), queue=True) for i in range(n)]
    ids = [i.pk for i in intents]

    def finished() -> bool:
        nonlocal peak
        if sample_memory:
            peak = max(peak, tree_rss(worker.pid))
        return Intent.objects.filter(pk__in=ids, status__in=[Status.IN_REVIEW, Status.FAILED]).count() == n

    wait_for(finished, timeout=60 * n, interval=0.05, what="all runs", log=worker.log_path)
    wall = time.perf_counter() - started
    runs = list(AgentRun.objects.filter(intent_id__in=ids).order_by("id"))
    failed = [r.reason for r in runs if r.status != RunStatus.DONE]
    if failed:
        raise SystemExit(f"{len(failed)} platform runs failed: {failed[:3]}")
    return {
        "wall": wall,
        "durations": [(r.finished_at - r.started_at).total_seconds() for r in runs],
        "steps": [r.steps for r in runs],
        "idle_rss": idle,
        "peak_rss": peak,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--intents", type=int, default=50)
    parser.add_argument("--block", type=int, default=10, help="runs per turn of CLI and platform")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    fresh_database()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    import redis
    from django.conf import settings

    redis.Redis.from_url(settings.REDIS_URL).flushdb()

    from django.contrib.auth.models import User

    from accounts.actions import do_create_team
    from projects.demo import TEST_COMMAND, create_demo_repository
    from projects.models import Project
    from runs.models import AgentRun, ModelConfig
    from tests.support.model_server import ModelServer
    from tests.support.solver import demo_fixer

    with tempfile.TemporaryDirectory(prefix="pipeline-bench-") as tmp, ModelServer(*[demo_fixer()] * 5000) as server:
        work = Path(tmp)
        settings.SLIPWAY_DATA_DIR = work / "data"
        settings.SLIPWAY_MIRROR_DIR = work / "data" / "mirrors"
        settings.SLIPWAY_WORKSPACE_DIR = work / "data" / "workspaces"
        (work / "data").mkdir()

        alice = User.objects.create_user("alice", password="x")
        team = do_create_team(alice, "Bench")
        team.max_concurrent_runs = 100
        repo = create_demo_repository(work / "demo")
        project = Project.objects.create(team=team, name="demo", repo_url=str(repo), test_command=TEST_COMMAND,
                                         max_concurrent_runs=100)
        model = ModelConfig.objects.create(team=team, name="scripted", base_url=server.openai_base_url, model="scripted")
        team.default_model = model
        team.save()
        setup = {"project": project, "alice": alice}
        # CLI and platform take turns, a block of each at a time: the machine's speed drifts over
        # minutes, and a baseline measured before the platform would carry the drift into the ratio.
        cli: list[float] = []
        one: dict[str, Any] = {"wall": 0.0, "durations": [], "steps": []}
        block_ratios = []
        with platform(1, work / "data") as worker:
            for first in range(0, args.intents, args.block):
                size = min(args.block, args.intents - first)
                cli_block = cli_runs(size, server.openai_base_url, work, first)
                block = platform_runs(worker, size, setup, sample_memory=False)
                cli += cli_block
                one["wall"] += block["wall"]
                one["durations"] += block["durations"]
                one["steps"] += block["steps"]
                block_ratios.append(statistics.median(block["durations"]) / statistics.median(cli_block))
        with platform(8, work / "data") as worker:
            eight = platform_runs(worker, 8, setup, sample_memory=True)
        with platform(1, work / "data") as worker:
            single = platform_runs(worker, 1, setup, sample_memory=True)
        sink = sink_cost(AgentRun.objects.first())

    cli_median = statistics.median(cli)
    per_step_overhead = [
        (platform - cli_d) / max(steps, 1) for platform, cli_d, steps in zip(one["durations"], cli, one["steps"], strict=False)
    ]
    figures = {
        "intents": args.intents,
        "cli_run_seconds_p50": cli_median,
        "cli_run_seconds_p95": percentile(cli, 0.95),
        "platform_run_seconds_p50": statistics.median(one["durations"]),
        "platform_run_seconds_p95": percentile(one["durations"], 0.95),
        "platform_vs_cli_ratio": statistics.median(one["durations"]) / cli_median,
        "platform_vs_cli_ratio_per_block": block_ratios,
        "platform_vs_cli_ratio_median_of_blocks": statistics.median(block_ratios),
        "runs_per_minute_platform": args.intents / one["wall"] * 60,
        "runs_per_minute_cli": args.intents / sum(cli) * 60,
        "steps_per_run": statistics.median(one["steps"]),
        "platform_overhead_per_step_ms_p50": percentile(per_step_overhead, 0.5) * 1000,
        "platform_overhead_per_step_ms_p95": percentile(per_step_overhead, 0.95) * 1000,
        **{f"event_{k}": v for k, v in sink.items()},
        "worker_peak_mb_1_run": single["peak_rss"] / 2**20,
        "worker_peak_mb_8_runs": eight["peak_rss"] / 2**20,
        "worker_idle_mb_8_slots": eight["idle_rss"] / 2**20,
        "worker_mb_per_concurrent_run_8": eight["peak_rss"] / 8 / 2**20,
    }
    rows = [
        ("run, CLI alone (p50 / p95)", f"{figures['cli_run_seconds_p50']:.2f} s / {figures['cli_run_seconds_p95']:.2f} s"),
        ("run, platform (p50 / p95)", f"{figures['platform_run_seconds_p50']:.2f} s / {figures['platform_run_seconds_p95']:.2f} s"),
        ("platform / CLI (median run)", f"{figures['platform_vs_cli_ratio']:.2f}x (goal <= 1.20x)"),
        ("platform / CLI, per block of runs", " ".join(f"{r:.2f}x" for r in block_ratios)),
        ("runs per minute, one worker slot", f"{figures['runs_per_minute_platform']:.1f} (CLI {figures['runs_per_minute_cli']:.1f})"),
        ("platform overhead per step (p50 / p95)", f"{figures['platform_overhead_per_step_ms_p50']:.1f} ms / {figures['platform_overhead_per_step_ms_p95']:.1f} ms"),
        ("event: agent waits (p50 / p95)", f"{figures['event_enqueue_ms_p50']:.3f} ms / {figures['event_enqueue_ms_p95']:.3f} ms"),
        ("event: written + published (amortised)", f"{figures['event_written_and_published_ms_amortised']:.3f} ms"),
        ("worker peak, 1 run", f"{figures['worker_peak_mb_1_run']:.0f} MB"),
        ("worker peak, 8 concurrent runs", f"{figures['worker_peak_mb_8_runs']:.0f} MB = {figures['worker_mb_per_concurrent_run_8']:.0f} MB per run (goal < 150)"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure'.ljust(width)}  value")
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
