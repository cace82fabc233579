"""State changes of evaluation suites, evaluations and exports: atomic, audited, queued on commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from django.db import transaction

from accounts import audit
from accounts.models import Team
from agents.evaluation import DEFAULT_RUNNER
from agents.instances import parse_instances
from evals.models import EvalResult, EvalSuite, EvalTask, Evaluation, Export, GradeStatus
from evals.suites import ImportReport, match_project
from intents.models import ATTEMPTS_MAX, DESCRIPTION_MAX, TITLE_MAX, Intent, Priority
from projects.models import Project
from runs.models import FINISHED, AgentRun, ModelConfig

EVAL_LABEL = "eval"


class EvalError(Exception):
    """The request cannot be done; the message says why and what to do."""


@transaction.atomic
def do_import_suite(
    team: Team,
    actor: Any,
    name: str,
    text: str,
    *,
    description: str = "",
    project: Project | None = None,
    include_hints: bool = False,
    test_runner: str = DEFAULT_RUNNER,
) -> tuple[EvalSuite, ImportReport]:
    """A suite from a SWE-bench-format file. Each repo maps to ``project`` when given, else to the
    team's project whose URL ends with it; tasks left unlinked are kept and reported, never dropped."""
    instances, problems = parse_instances(text)
    if not instances:
        detail = "; ".join(f"{p.where}: {p.message}" for p in problems[:5])
        raise EvalError(f"No usable instance in the file{': ' + detail if detail else ''}.")
    if EvalSuite.objects.filter(team=team, name=name).exists():
        raise EvalError(f"There is already a suite called {name!r}.")
    projects = list(Project.objects.filter(team=team))
    mapping = {
        repo: project or match_project(repo, projects) for repo in dict.fromkeys(i.repo for i in instances)
    }
    suite = EvalSuite.objects.create(
        team=team,
        name=name,
        description=description,
        include_hints=include_hints,
        test_runner=test_runner or DEFAULT_RUNNER,
        problems=[asdict(p) for p in problems],
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    EvalTask.objects.bulk_create(
        EvalTask(
            suite=suite,
            position=n,
            instance_id=i.instance_id,
            repo=i.repo,
            base_commit=i.base_commit,
            problem_statement=i.problem_statement,
            hints_text=i.hints_text,
            test_patch=i.test_patch,
            fail_to_pass=list(i.fail_to_pass),
            pass_to_pass=list(i.pass_to_pass),
            extra=i.extra,
            project=mapping[i.repo],
        )
        for n, i in enumerate(instances)
    )
    report = ImportReport(imported=len(instances), problems=problems)
    for repo, linked in mapping.items():
        if linked is None:
            report.unlinked[repo] = sum(1 for i in instances if i.repo == repo)
        else:
            report.linked[repo] = linked.name
    after = {
        "tasks": len(instances),
        "problems": len(problems),
        "unlinked": report.unlinked,
        "linked": report.linked,
    }
    audit.record(
        team, actor, "eval.import", suite, f"imported {len(instances)} tasks as suite {name}", after=after
    )
    return suite, report


@transaction.atomic
def do_map_repository(suite: EvalSuite, actor: Any, repo: str, project: Project | None) -> int:
    """Point every task of ``repo`` at ``project`` (None: unlinked); how many tasks changed."""
    if project is not None and project.team_id != suite.team_id:
        raise EvalError("That project belongs to another team.")
    changed = EvalTask.objects.filter(suite=suite, repo=repo).update(project=project)
    summary = f"mapped {repo} to {project.name if project else 'nothing'} in suite {suite.name}"
    audit.record(
        suite.team,
        actor,
        "eval.map",
        suite,
        summary,
        after={"repo": repo, "project": project.pk if project else None},
    )
    return changed


def intent_for(task: EvalTask, model: ModelConfig, attempts: int) -> Intent:
    description = task.problem_statement
    if task.suite.include_hints and task.hints_text.strip():
        description += f"\n\n## Hints\n\n{task.hints_text}"
    return Intent(
        title=f"Eval {task.instance_id}"[:TITLE_MAX],
        description=description[:DESCRIPTION_MAX],
        attempts=attempts,
        model=model,
        base_commit=task.base_commit,
        labels=[EVAL_LABEL],
        priority=Priority.LOW,  # people's own intents go first when workers are busy
    )


@transaction.atomic
def do_start_evaluation(
    suite: EvalSuite, actor: Any, models: Sequence[ModelConfig], attempts: int = 1
) -> Evaluation:
    """An intent per (task, model) at the task's base commit, ``attempts`` runs each, graded as they end."""
    from intents.actions import do_file_intent

    if not models:
        raise EvalError("Choose at least one model configuration.")
    if any(m.team_id != suite.team_id for m in models):
        raise EvalError("A model configuration belongs to another team.")
    if not 1 <= attempts <= ATTEMPTS_MAX:
        raise EvalError(f"Attempts must be between 1 and {ATTEMPTS_MAX}.")
    tasks = list(suite.tasks.select_related("project", "suite"))
    if not tasks:
        raise EvalError("The suite has no tasks.")
    evaluation = Evaluation.objects.create(
        suite=suite, team=suite.team, attempts=attempts, created_by=_person(actor)
    )
    evaluation.model_configs.set(models)
    results = []
    for task in tasks:
        for model in models:
            if task.project is None:
                # Reported as an error against every model, so the resolve rate stays over the whole suite.
                why = f"the repository {task.repo} is not linked to a project of the team"
                results += [
                    _result(evaluation, task, model, n, status=GradeStatus.ERROR, error=why)
                    for n in range(1, attempts + 1)
                ]
                continue
            intent = do_file_intent(task.project, actor, intent_for(task, model, attempts), queue=True)
            for run in AgentRun.objects.filter(intent=intent).order_by("attempt"):
                results.append(_result(evaluation, task, model, run.attempt, intent=intent, run=run))
    EvalResult.objects.bulk_create(results)
    summary = f"started evaluation {evaluation.pk} of {suite.name}: {len(tasks)} tasks x {len(models)} models x {attempts}"
    audit.record(
        suite.team,
        actor,
        "eval.start",
        evaluation,
        summary,
        after={"models": [m.name for m in models], "attempts": attempts},
    )
    return evaluation


def _result(
    evaluation: Evaluation, task: EvalTask, model: ModelConfig, attempt: int, **fields: Any
) -> EvalResult:
    return EvalResult(
        evaluation=evaluation, task=task, model=model, model_label=model.name, attempt=attempt, **fields
    )


@transaction.atomic
def do_regrade(evaluation: Evaluation, actor: Any) -> int:
    """Grade again every result that errored, and every one whose run ended without a grade; how many."""
    from evals.tasks import grade_result

    finished = list(FINISHED)
    again = EvalResult.objects.filter(evaluation=evaluation, run__status__in=finished).filter(
        status=GradeStatus.ERROR
    )
    again.update(status=GradeStatus.PENDING, error="", grade=None, log="", graded_at=None)
    pending = list(
        EvalResult.objects.filter(
            evaluation=evaluation, status=GradeStatus.PENDING, run__status__in=finished
        ).values_list("pk", flat=True)
    )
    transaction.on_commit(lambda: [grade_result.delay(result_id) for result_id in pending])
    audit.record(
        evaluation.team,
        actor,
        "eval.regrade",
        evaluation,
        f"regraded {len(pending)} results of evaluation {evaluation.pk}",
    )
    return len(pending)


@transaction.atomic
def do_start_export(
    team: Team, actor: Any, format: str, filters: dict[str, Any], *, extras: bool = True, total: int = 0
) -> Export:
    """A background export; its file appears under SLIPWAY_DATA_DIR/exports when done."""
    from evals.tasks import run_export

    export = Export.objects.create(
        team=team, created_by=_person(actor), format=format, filters=filters, extras=extras, total=total
    )
    audit.record(
        team,
        actor,
        "export.start",
        export,
        f"started a {format} export",
        after={"filters": filters, "runs": total},
    )
    transaction.on_commit(lambda: run_export.delay(export.pk))
    return export


def _person(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None
