"""Grading an evaluation result (evals.grading.grade_result, the plain function the task calls):
a fresh workspace at the task's base commit, the run's patch, its tests in a bubblewrap sandbox."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from evals.actions import do_import_suite, do_start_evaluation
from evals.grading import grade_result, grading_label, is_grading_alive
from evals.leaderboard import leaderboard
from evals.models import EvalResult, GradeStatus
from runs.models import ModelConfig, RunStatus
from runs.sandboxes import backend_for_worker, instance_id
from tests.conftest import login
from tests.evals.conftest import CALC, FIXES, diff_of, jsonl


@pytest.fixture(autouse=True)
def bubblewrap(settings):  # type: ignore[no-untyped-def]
    settings.SLIPWAY_SANDBOX_BACKEND = "bubblewrap"
    backend_for_worker.cache_clear()
    yield
    backend_for_worker.cache_clear()


@pytest.fixture
def evaluation(alice, team, rows, calc_project):  # type: ignore[no-untyped-def]
    suite, _ = do_import_suite(team, alice, "calc", jsonl(rows))
    config = ModelConfig.objects.create(
        team=team, name="model-a", base_url="http://127.0.0.1:9/v1", model="a"
    )
    return do_start_evaluation(suite, alice, [config])


def result_of(evaluation, name: str) -> EvalResult:  # type: ignore[no-untyped-def]
    return EvalResult.objects.select_related("run").get(
        evaluation=evaluation, task__instance_id=f"acme__calc-{name}"
    )


def ends(result: EvalResult, diff: str, *, cost: str = "0.01", tokens: int = 1000) -> None:
    """The run ends as the pipeline ends it, with ``diff`` as its change from the base commit."""
    now = timezone.now()
    type(result.run).objects.filter(pk=result.run_id).update(
        status=RunStatus.DONE, outcome="submitted", diff=diff, cost=Decimal(cost), prompt_tokens=tokens,
        started_at=now - timezone.timedelta(seconds=30), finished_at=now,
    )  # fmt: skip


def fix(calc_repo, base_commit, *names: str, extra: dict[str, str] | None = None) -> str:  # type: ignore[no-untyped-def]
    from tests.reviews.changes import git

    text = CALC
    for name in names:
        text = text.replace(*FIXES[name])
    # The patch is made against the base commit, as the pipeline makes it; main has moved on since.
    git(calc_repo, "checkout", "-q", base_commit)
    try:
        return diff_of(calc_repo, {"calc.py": text, **(extra or {})})
    finally:
        git(calc_repo, "checkout", "-q", "main")


def test_a_patch_that_fixes_the_task_is_graded_resolved_and_once_only(evaluation, calc_repo, base_commit):
    result = result_of(evaluation, "sub")
    ends(result, fix(calc_repo, base_commit, "sub"))

    assert grade_result(result.pk) == "resolved"
    assert grade_result(result.pk) == "skipped"
    result.refresh_from_db()
    assert result.status == GradeStatus.RESOLVED and result.graded_at and result.grading_seconds > 0
    assert result.grade["tests_status"]["FAIL_TO_PASS"] == {
        "success": ["tests/test_calc.py::test_sub"],
        "failure": [],
    }
    assert result.grade["test_results"] == {
        "tests/test_calc.py::test_sub": "PASSED",
        "tests/test_calc.py::test_add": "PASSED",
    }
    assert "PASSED tests/test_calc.py::test_sub" in result.log


def test_a_patch_that_misses_the_bug_is_unresolved(evaluation, calc_repo, base_commit):
    result = result_of(evaluation, "mul")
    ends(result, fix(calc_repo, base_commit, "sub"))
    assert grade_result(result.pk) == "unresolved"


def test_a_binary_change_cannot_travel_in_a_patch_and_is_an_error(evaluation, calc_repo, base_commit):
    from tests.reviews.changes import git

    result = result_of(evaluation, "div")
    git(calc_repo, "checkout", "-q", base_commit)
    try:
        (calc_repo / "calc.py").write_text(CALC.replace(*FIXES["div"]))
        (calc_repo / "blob.bin").write_bytes(b"\x00\x01\x02")
        git(calc_repo, "add", "-A")
        patch = git(calc_repo, "diff", "--cached", "HEAD") + "\n"  # as Workspace.diff writes it: no --binary
        git(calc_repo, "reset", "-q", "--hard")
    finally:
        git(calc_repo, "checkout", "-q", "main")
    assert "Binary files" in patch
    ends(result, patch)

    assert grade_result(result.pk) == "error"
    result.refresh_from_db()
    assert result.error.startswith("the patch does not apply") and "blob.bin" in result.error


def test_a_run_that_changed_nothing_is_an_empty_patch(evaluation):
    result = result_of(evaluation, "sub")
    ends(result, "")
    assert grade_result(result.pk) == "empty"


def test_a_result_waits_while_its_run_is_still_going(evaluation):
    result = result_of(evaluation, "sub")
    assert grade_result(result.pk) == "waiting"
    result.refresh_from_db()
    assert result.status == GradeStatus.PENDING


def test_grading_sandboxes_are_not_the_reapers_to_judge_while_they_work(evaluation):
    from runs.sandboxes import parse_run_label

    result = result_of(evaluation, "sub")
    label = grading_label(result.pk, "abcd")
    installation, _, _ = parse_run_label(label)
    assert installation != instance_id()  # the reaper leaves it alone until its deadline
    assert is_grading_alive(label) is False
    EvalResult.objects.filter(pk=result.pk).update(status=GradeStatus.GRADING)
    assert is_grading_alive(label) is True and is_grading_alive(label + "-setup") is True
    assert is_grading_alive(f"{instance_id()}/42:lease") is None


def test_the_leaderboard_predictions_and_report_agree_with_the_grades(
    client, alice, evaluation, calc_repo, base_commit
):
    patches = {
        "sub": fix(calc_repo, base_commit, "sub"),
        "mul": fix(calc_repo, base_commit, "sub"),
        "div": "",
    }
    for name, patch in patches.items():
        result = result_of(evaluation, name)
        ends(result, patch, cost="0.50", tokens=2000)
        grade_result(result.pk)

    (row,) = leaderboard(evaluation.suite)
    assert (row.label, row.attempts, row.resolved, row.unresolved, row.empty, row.errors, row.pending) == (
        "model-a",
        3,
        1,
        1,
        1,
        0,
        0,
    )
    assert row.resolve_rate == pytest.approx(1 / 3) and row.cost == Decimal("1.5") and row.mean_tokens == 2000
    assert row.wall_seconds == pytest.approx(30, abs=1)

    model = evaluation.model_configs.get()
    login(client, alice)
    predictions = client.get(
        reverse("eval_predictions", args=[evaluation.pk]) + f"?model={model.pk}&attempt=1"
    ).content.decode()
    lines = [json.loads(line) for line in predictions.splitlines()]
    assert [p["instance_id"] for p in lines] == ["acme__calc-sub", "acme__calc-mul", "acme__calc-div"]
    assert lines[0] == {
        "instance_id": "acme__calc-sub",
        "model_name_or_path": "model-a",
        "model_patch": patches["sub"],
    }
    report = json.loads(
        client.get(reverse("eval_report", args=[evaluation.pk]) + f"?model={model.pk}&attempt=1").content
    )
    assert report["resolved_ids"] == ["acme__calc-sub"] and report["unresolved_ids"] == ["acme__calc-mul"]
    assert report["empty_patch_ids"] == ["acme__calc-div"] and report["total_instances"] == 3
    assert report["reports"]["acme__calc-sub"]["resolved"] is True
    page = client.get(reverse("eval_suite", args=[evaluation.suite.pk])).content.decode()
    assert "model-a" in page and "33 %" in page
