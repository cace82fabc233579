"""Importing SWE-bench-format suites, mapping their repositories, and starting evaluations."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import AuditEntry
from evals.actions import EvalError, do_import_suite, do_start_evaluation
from evals.models import EvalResult, EvalSuite, EvalTask, GradeStatus
from evals.suites import match_project
from intents.models import Intent, Status
from projects.models import Project
from runs.models import AgentRun, ModelConfig
from tests.conftest import login
from tests.evals.conftest import jsonl


def upload(client, rows, **fields):  # type: ignore[no-untyped-def]
    data = {"name": "calc bugs", "test_runner": "python3 -m pytest -rA", **fields}
    data["file"] = SimpleUploadedFile("suite.jsonl", jsonl(rows).encode(), content_type="application/jsonl")
    return client.post(reverse("eval_import"), data)


@pytest.fixture
def configs(team):  # type: ignore[no-untyped-def]
    return [
        ModelConfig.objects.create(team=team, name=name, base_url="http://127.0.0.1:9/v1", model=name)
        for name in ("model-a", "model-b")
    ]


def test_a_member_imports_a_suite_and_each_repo_finds_its_project(client, bob, rows, calc_project):
    response = upload(login(client, bob), rows)

    suite = EvalSuite.objects.get()
    assert response["Location"] == reverse("eval_suite", args=[suite.pk])
    tasks = list(suite.tasks.all())
    assert [t.instance_id for t in tasks] == ["acme__calc-sub", "acme__calc-mul", "acme__calc-div"]
    assert all(t.project == calc_project for t in tasks)
    assert tasks[0].fail_to_pass == ["tests/test_calc.py::test_sub"]  # read from a JSON-encoded string
    assert tasks[0].pass_to_pass == ["tests/test_calc.py::test_add"]
    assert tasks[0].extra == {"version": "0.1"}
    assert AuditEntry.objects.get(action="eval.import").actor == bob


def test_an_instance_whose_repo_is_not_linked_is_reported_not_dropped(client, alice, rows, calc_project):
    rows[2] = rows[2] | {"repo": "elsewhere/unknown", "instance_id": "elsewhere__unknown-1"}
    response = upload(login(client, alice), rows)

    suite = EvalSuite.objects.get()
    assert EvalTask.objects.filter(suite=suite).count() == 3
    assert EvalTask.objects.get(instance_id="elsewhere__unknown-1").project is None
    page = client.get(response["Location"]).content.decode()
    assert "No linked project for elsewhere/unknown (1)" in page
    assert "not linked" in page


def test_mapping_a_repository_links_its_tasks(client, alice, team, rows, calc_project):
    rows = [r | {"repo": "elsewhere/unknown"} for r in rows]
    suite, report = do_import_suite(team, alice, "calc", jsonl(rows))
    assert report.unlinked == {"elsewhere/unknown": 3}

    login(client, alice).post(
        reverse("eval_suite_map", args=[suite.pk]), {"repo": "elsewhere/unknown", "project": calc_project.pk}
    )

    assert set(suite.tasks.values_list("project_id", flat=True)) == {calc_project.pk}


def test_rows_that_cannot_be_read_are_listed_on_the_suite(client, alice, rows, calc_project):
    rows[1] = {k: v for k, v in rows[1].items() if k != "test_patch"}
    response = upload(login(client, alice), rows)

    assert EvalTask.objects.count() == 2
    page = client.get(response["Location"]).content.decode()
    assert "line 2" in page and "missing test_patch" in page


def test_a_file_with_no_usable_instance_is_refused(client, alice, calc_project):
    response = login(client, alice).post(
        reverse("eval_import"), {"name": "x", "text": '{"instance_id": "x"}', "test_runner": "pytest"}
    )
    assert response.status_code == 200
    assert "No usable instance" in response.content.decode()
    assert not EvalSuite.objects.exists()


def test_a_viewer_cannot_import(client, vera, rows, calc_project):
    assert upload(login(client, vera), rows).status_code == 403
    assert not EvalSuite.objects.exists()


def test_repositories_match_by_owner_and_name_then_by_name(team, alice):
    def project(name, url):  # type: ignore[no-untyped-def]
        return Project(team=team, name=name, repo_url=url)

    astropy = project("astropy", "https://github.com/astropy/astropy.git")
    fork = project("fork", "git@github.com:someone/astropy")
    django = project("django", "/srv/git/django/")
    assert match_project("astropy/astropy", [astropy, fork, django]) == astropy
    assert match_project("django/django", [astropy, fork, django]) == django
    assert match_project("other/astropy", [astropy, fork]) is None  # two candidates by name: ask
    assert match_project("psf/requests", [astropy, django]) is None


def test_starting_an_evaluation_files_an_intent_per_task_and_model_at_the_base_commit(
    alice, team, rows, calc_project, configs, base_commit
):
    suite, _ = do_import_suite(team, alice, "calc", jsonl(rows))

    evaluation = do_start_evaluation(suite, alice, configs, attempts=2)

    intents = Intent.objects.filter(labels__contains=["eval"])
    assert intents.count() == 6
    assert {i.base_commit for i in intents} == {base_commit}
    assert {i.model for i in intents} == set(configs)
    assert all(i.status == Status.QUEUED and i.attempts == 2 for i in intents)
    sub = intents.get(title="Eval acme__calc-sub", model=configs[0])
    assert sub.description == "sub() adds its arguments instead of subtracting them."
    assert "test_sub" not in sub.description  # the hidden tests stay hidden
    results = EvalResult.objects.filter(evaluation=evaluation)
    assert results.count() == 12
    assert all(r.run is not None and r.status == GradeStatus.PENDING for r in results)
    assert {(r.run.model_id, r.run.attempt) for r in results.filter(task__instance_id="acme__calc-sub")} == {
        (c.pk, n) for c in configs for n in (1, 2)
    }
    assert AgentRun.objects.count() == 12


def test_a_task_whose_repository_is_not_linked_is_an_error_for_every_model(
    alice, team, rows, calc_project, configs
):
    rows[0] = rows[0] | {"repo": "elsewhere/unknown"}
    suite, _ = do_import_suite(team, alice, "calc", jsonl(rows))

    evaluation = do_start_evaluation(suite, alice, configs)

    unlinked = EvalResult.objects.filter(evaluation=evaluation, task__instance_id="acme__calc-sub")
    assert unlinked.count() == 2
    assert all(r.status == GradeStatus.ERROR and r.run is None and "not linked" in r.error for r in unlinked)
    assert Intent.objects.count() == 4


def test_an_evaluation_needs_a_model_and_sane_attempts(alice, team, rows, calc_project, configs):
    suite, _ = do_import_suite(team, alice, "calc", jsonl(rows))
    with pytest.raises(EvalError, match="at least one model"):
        do_start_evaluation(suite, alice, [])
    with pytest.raises(EvalError, match="between 1 and 5"):
        do_start_evaluation(suite, alice, configs, attempts=6)


def test_the_run_form_starts_an_evaluation(client, bob, team, alice, rows, calc_project, configs):
    suite, _ = do_import_suite(team, alice, "calc", jsonl(rows))
    response = login(client, bob).post(
        reverse("eval_suite_run", args=[suite.pk]), {"models": [configs[1].pk], "attempts": 1}
    )

    evaluation = suite.evaluations.get()
    assert response["Location"] == reverse("eval_evaluation", args=[evaluation.pk])
    assert list(evaluation.model_configs.all()) == [configs[1]]
    page = client.get(response["Location"]).content.decode()
    assert page.count("acme__calc-") >= 3 and "Pending" in page


def test_mallory_sees_nothing_of_alices_suites(client, mallory, alice, team, rows, calc_project, configs):
    suite, _ = do_import_suite(team, alice, "calc", jsonl(rows))
    evaluation = do_start_evaluation(suite, alice, configs[:1])
    login(client, mallory)
    for url in (
        reverse("eval_suite", args=[suite.pk]),
        reverse("eval_compare", args=[suite.pk]),
        reverse("eval_evaluation", args=[evaluation.pk]),
        reverse("eval_predictions", args=[evaluation.pk]) + f"?model={configs[0].pk}",
        reverse("eval_report", args=[evaluation.pk]) + f"?model={configs[0].pk}",
    ):
        assert client.get(url).status_code == 404, url
    for url in (
        reverse("eval_suite_run", args=[suite.pk]),
        reverse("eval_suite_map", args=[suite.pk]),
        reverse("eval_regrade", args=[evaluation.pk]),
    ):
        assert client.post(url, {"models": [configs[0].pk], "attempts": 1}).status_code == 404, url
    assert "calc" not in client.get(reverse("eval_suites")).content.decode()
    assert (
        evaluation.results.count() == 3
        and json.dumps(list(EvalSuite.objects.values_list("name", flat=True))) == '["calc"]'
    )


def test_the_suites_page_lists_the_teams_suites_and_offers_an_import(
    client, bob, alice, team, rows, calc_project
):
    do_import_suite(team, alice, "calc", jsonl(rows))
    page = login(client, bob).get(reverse("eval_suites")).content.decode()
    assert "calc" in page and reverse("eval_import") in page and "css/evals.css" in page
    assert "Import a suite" in client.get(reverse("eval_import")).content.decode()


def test_the_command_imports_runs_and_reports_a_suite(
    alice, team, rows, calc_project, configs, tmp_path, capsys
):
    from django.core.management import call_command

    path = tmp_path / "suite.jsonl"
    path.write_text(jsonl(rows))
    call_command(
        "eval_suite",
        "import",
        "--team",
        team.slug,
        "--suite",
        "calc",
        "--file",
        str(path),
        "--as-user",
        "alice",
    )
    call_command("eval_suite", "run", "--team", team.slug, "--suite", "calc", "--models", "model-a,model-b")
    call_command("eval_suite", "leaderboard", "--team", team.slug, "--suite", "calc")

    out = capsys.readouterr().out
    assert "3 tasks imported" in out and "evaluation" in out
    board = json.loads(out[out.index("[") :])
    assert {row["model"] for row in board} == {"model-a", "model-b"} and all(
        row["pending"] == 3 for row in board
    )
    assert EvalSuite.objects.get().created_by == alice
