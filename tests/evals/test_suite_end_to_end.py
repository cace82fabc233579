"""A suite of three tasks run end to end against two model configurations, with real parts:
PostgreSQL, Redis, a Celery worker process (agents and grading), bubblewrap sandboxes, real git,
and the scripted model server. Then the merged run downloads as a fine-tuning file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.urls import reverse

from evals import rewards
from evals.actions import do_import_suite, do_start_evaluation
from evals.leaderboard import compare, leaderboard
from evals.models import GRADED, EvalResult, RunReward
from reviews.actions import do_approve
from reviews.merging import do_merge
from reviews.models import ChangeRequest
from runs.models import ModelConfig
from tests.conftest import login
from tests.evals.conftest import FIXES, jsonl
from tests.support.model_server import ModelServer
from tests.support.platform import celery_worker, wait_for
from tests.support.script import Dynamic, RecordedRequest, Step, submit, text, tool

pytestmark = pytest.mark.slow

SECRET = "sk-test-EVAL-secret-key-0123456789"


def solver(request: RecordedRequest) -> Step:
    """Model B fixes sub() and mul(); model A only sub(), and leaves mul() as it was. Both fix div()
    but also write a binary file, which a text patch cannot carry: that patch will not apply."""
    seen = request.text
    task = "sub" if "sub() adds its" in seen else "mul" if "mul() adds its" in seen else "div"
    model = request.body.get("model") if isinstance(request.body, dict) else None
    turn = sum(1 for m in request.messages if m.get("role") == "assistant")
    old, new = FIXES[task]
    if task == "mul" and model == "scripted-a":
        new = old.replace("    return", "    # adds, for now\n    return")
    plan = [
        text("1. Fix the function. 2. Submit."),
        tool("edit_file", path="calc.py", old_text=old, new_text=new),
        *([tool("bash", command="printf '\\000\\001\\002' > data.bin")] if task == "div" else []),
        submit(f"Fixed {task}()."),
    ]
    return plan[min(turn, len(plan) - 1)]


@pytest.fixture
def model_server() -> Iterator[ModelServer]:
    with ModelServer(*[Dynamic(solver)] * 200) as server:
        yield server


@pytest.fixture
def worker(transactional_db, _data_dir: Path) -> Iterator:  # type: ignore[no-untyped-def]
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    with celery_worker(_data_dir, concurrency=3) as proc:
        yield proc


def test_a_suite_runs_against_two_models_and_the_leaderboard_and_exports_tell_the_truth(
    client, alice, team, rows, calc_project, base_commit, model_server, worker
):
    configs = []
    for name in ("scripted-a", "scripted-b"):
        config = ModelConfig(team=team, name=name, base_url=model_server.openai_base_url, model=name)
        config.set_api_key(SECRET)
        config.save()
        configs.append(config)
    suite, report = do_import_suite(team, alice, "calc bugs", jsonl(rows))
    assert report.unlinked == {} and report.linked == {"acme/calc": "calc"}

    evaluation = do_start_evaluation(suite, alice, configs)
    results = EvalResult.objects.filter(evaluation=evaluation)
    wait_for(
        lambda: all(r.status in GRADED for r in results.all()),
        timeout=240,
        interval=0.5,
        what="every attempt to run and be graded",
        log=worker.log_path,
    )

    grades = {(r.model_label, r.task.instance_id): r for r in results.select_related("task", "run")}
    outcome = {key: r.status for key, r in grades.items()}
    assert outcome == {
        ("scripted-a", "acme__calc-sub"): "resolved",
        ("scripted-a", "acme__calc-mul"): "unresolved",
        ("scripted-a", "acme__calc-div"): "error",
        ("scripted-b", "acme__calc-sub"): "resolved",
        ("scripted-b", "acme__calc-mul"): "resolved",
        ("scripted-b", "acme__calc-div"): "error",
    }, {key: (r.status, r.error, r.run.reason) for key, r in grades.items()}
    assert "does not apply" in grades[("scripted-a", "acme__calc-div")].error
    # Every run started at the task's base commit, not at main (which moved on).
    assert {r.run.base_sha for r in grades.values()} == {base_commit}

    board = {row.label: row for row in leaderboard(suite)}
    a, b = board["scripted-a"], board["scripted-b"]
    assert (a.resolved, a.unresolved, a.errors, a.graded, a.pending) == (1, 1, 1, 3, 0)
    assert (b.resolved, b.unresolved, b.errors, b.graded) == (2, 0, 1, 3)
    assert a.resolve_rate == pytest.approx(1 / 3) and b.resolve_rate == pytest.approx(2 / 3)
    assert a.cost >= 0 and a.mean_tokens > 0 and a.wall_seconds and a.wall_seconds > 0
    assert [row.label for row in leaderboard(suite)] == ["scripted-b", "scripted-a"]
    _, summary = compare(suite, configs[0].pk, configs[1].pk)
    assert summary == {"both": 1, "only_a": 0, "only_b": 1, "neither": 1}

    login(client, alice)
    page = client.get(
        reverse("eval_compare", args=[suite.pk]) + f"?a={configs[0].pk}&b={configs[1].pk}"
    ).content.decode()
    for result in grades.values():
        assert reverse("run_detail", args=[result.run_id]) in page  # a link to every trajectory
    report = json.loads(
        client.get(reverse("eval_report", args=[evaluation.pk]) + f"?model={configs[1].pk}&attempt=1").content
    )
    assert report["resolved_ids"] == ["acme__calc-mul", "acme__calc-sub"] and report["error_ids"] == [
        "acme__calc-div"
    ]

    # Every run's reward was stored as it ended; a person merges the solved task of model A.
    assert RunReward.objects.filter(run__in=[r.run_id for r in grades.values()]).count() == 6
    solved = grades[("scripted-a", "acme__calc-sub")].run
    cr = ChangeRequest.objects.get(intent_id=solved.intent_id)
    do_approve(cr, alice)
    do_merge(ChangeRequest.objects.get(pk=cr.pk), alice, "merge")
    assert rewards.record_verdict(solved.pk).verdict == "merged"  # as the review actions will call it

    response = client.post(reverse("exports"), {"format": "openai", "outcome": "merged", "extras": "on"})
    body = b"".join(response.streaming_content).decode()
    (line,) = [json.loads(text_) for text_ in body.splitlines()]
    assert line["metadata"]["run_id"] == solved.pk and line["metadata"]["instance_id"] == "acme__calc-sub"
    assert line["reward"]["verdict"] == "merged" and line["reward"]["resolved"] is True
    assert any(
        c["function"]["name"] == "edit_file" for m in line["messages"] for c in m.get("tool_calls", [])
    )
    assert SECRET not in body
