"""Grading one evaluation result: the run's patch, in a fresh workspace at the task's base commit,
its tests in a sandbox of the platform's configured backend (``agents.evaluation.grade``)."""

from __future__ import annotations

import logging
import secrets
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from agents.evaluation import Grade, grade
from agents.git import GitError
from agents.sandbox.base import LABEL_PROJECT, LABEL_RUN, Backend, SandboxError, SandboxSpec
from agents.workspace import Workspace, prepare_workspace
from evals.models import EvalResult, EvalTask, GradeStatus
from projects.models import NetworkPolicy, Project
from runs.models import FINISHED, AgentRun
from runs.pipeline import mirror_for
from runs.sandboxes import backend_for_worker, instance_id, limits_for

log = logging.getLogger(__name__)

# A result claimed this long ago whose grader never finished lost its worker: it may be claimed again.
GRADING_STALE = timedelta(minutes=30)


def grading_label(result_id: int, token: str) -> str:
    """The run label of a grading sandbox: ``<installation>-grade/<result>:<token>``.

    The reaper (``runs.recovery.reap_sandboxes``) reads the part before ``/`` as the
    installation and leaves sandboxes of installations other than its own alone until
    their deadline: so a grading sandbox is never taken for a dead run's while it works,
    and one a crashed worker left behind goes at its deadline.
    """
    return f"{instance_id()}-grade/{result_id}:{token}"


def grade_result(result_id: int) -> str:
    """Grade one result if it is waiting and its run has ended; safe to run twice. Returns its status."""
    now = timezone.now()
    waiting = Q(status=GradeStatus.PENDING) | Q(
        status=GradeStatus.GRADING, grading_started_at__lt=now - GRADING_STALE
    )
    claimed = EvalResult.objects.filter(waiting, pk=result_id).update(
        status=GradeStatus.GRADING, grading_started_at=now
    )
    if claimed != 1:
        return "skipped"
    result = EvalResult.objects.select_related("task__suite", "task__project", "run").get(pk=result_id)
    run = result.run
    if run is not None and run.status not in FINISHED:
        EvalResult.objects.filter(pk=result_id).update(status=GradeStatus.PENDING, grading_started_at=None)
        return "waiting"
    started = time.monotonic()
    if run is None:
        outcome = Grade(result.task.instance_id, "error", error="the run was deleted")
    elif run.outcome == "cancelled" and not run.diff:
        outcome = Grade(
            result.task.instance_id, "error", error="the run was cancelled before it produced a patch"
        )
    else:
        try:
            outcome = grade_run(result.pk, result.task, run)
        except Exception as exc:  # graded as an error, visible on the page, rather than stuck "grading"
            log.exception("grading result %s crashed", result_id)
            outcome = Grade(
                result.task.instance_id, "error", error=f"internal error: {type(exc).__name__}: {exc}"
            )
    _store(result_id, outcome, time.monotonic() - started)
    return outcome.status


def grade_run(result_id: int, task: EvalTask, run: AgentRun) -> Grade:
    project = task.project
    if project is None:
        return Grade(
            task.instance_id, "error", error=f"the repository {task.repo} is not linked to a project"
        )
    if not run.diff.strip():
        return Grade(task.instance_id, "empty", error="the run produced no patch")
    token = secrets.token_hex(4)
    dest = Path(settings.SLIPWAY_WORKSPACE_DIR) / f"grade-{result_id}-{token}"
    try:
        workspace = prepare_workspace(
            mirror_for(run), dest, base=task.base_commit, branch=f"slipway/grade/{result_id}"
        )
    except GitError as exc:
        return Grade(task.instance_id, "error", error=f"cannot check out {task.base_commit}: {exc}")
    try:
        backend = backend_for_worker()
        label = grading_label(result_id, token)
        if project.setup_command:
            problem = _setup(backend, project, workspace, label)
            if problem:
                return Grade(task.instance_id, "error", error=problem)
        spec = _spec(project, workspace, label, network=project.network_policy == NetworkPolicy.ALL)

        def attempt(tree: Workspace) -> Grade:
            return grade(
                task.instance(),
                run.diff,
                tree,
                lambda: backend.start(spec),
                runner=task.suite.test_runner,
                timeout=float(project.command_timeout),
            )

        try:
            return attempt(workspace)
        except SandboxError as exc:
            # Once more, from a fresh checkout: a sandbox can fail for reasons of its own (a daemon restart).
            log.warning("grading result %s: the sandbox failed (%s); trying once more", result_id, exc)
        try:
            return attempt(_fresh(run, task, dest, workspace, result_id))
        except SandboxError as exc:
            return Grade(task.instance_id, "error", error=f"the sandbox failed: {exc}")
    except GitError as exc:
        return Grade(task.instance_id, "error", error=f"git failed while grading: {exc}")
    finally:
        workspace.cleanup()


def _fresh(run: AgentRun, task: EvalTask, dest: Path, old: Workspace, result_id: int) -> Workspace:
    old.cleanup()
    return prepare_workspace(
        mirror_for(run), dest, base=task.base_commit, branch=f"slipway/grade/{result_id}"
    )


def _spec(project: Project, workspace: Workspace, label: str, *, network: bool) -> SandboxSpec:
    return SandboxSpec(
        workspace=workspace.path,
        image=settings.SLIPWAY_SANDBOX_IMAGE,
        limits=limits_for(project),
        network=network,
        labels={LABEL_RUN: label, LABEL_PROJECT: str(project.pk)},
        readonly_mounts=workspace.readonly_mounts,
    )


def _setup(backend: Backend, project: Project, workspace: Workspace, label: str) -> str:
    """The project's setup command, as the pipeline runs it before the agent; a problem, or ""."""
    network = project.network_policy in (NetworkPolicy.SETUP, NetworkPolicy.ALL)
    with backend.start(_spec(project, workspace, f"{label}-setup", network=network)) as box:
        done = box.exec(project.setup_command, timeout=float(project.command_timeout))
    if done.exit_code != 0:
        return f"the setup command failed with exit code {done.exit_code}: {done.output[-500:]}"
    return ""


def _store(result_id: int, outcome: Grade, seconds: float) -> None:
    data = outcome.to_dict()
    log_text = data.pop("log", "")
    EvalResult.objects.filter(pk=result_id, status=GradeStatus.GRADING).update(
        status=outcome.status,
        error=outcome.error[:5000],
        grade=data,
        log=log_text,
        graded_at=timezone.now(),
        grading_seconds=round(seconds, 3),
    )


def is_grading_alive(label: str) -> bool | None:
    """Whether a grading sandbox's result is still being graded; None for a label that is not a grading one.
    (For the reaper, should it ever judge grading sandboxes itself rather than wait for their deadline.)"""
    installation, _, rest = label.partition("/")
    if installation != f"{instance_id()}-grade":
        return None
    result_id = rest.split(":", 1)[0]
    return (
        result_id.isdigit()
        and EvalResult.objects.filter(pk=int(result_id), status=GradeStatus.GRADING).exists()
    )


def queue_pending() -> int:
    """Queue grading for every pending result whose run has ended; how many."""
    from evals.tasks import grade_result as task

    stale = Q(status=GradeStatus.GRADING, grading_started_at__lt=timezone.now() - GRADING_STALE)
    waiting = EvalResult.objects.filter(Q(status=GradeStatus.PENDING) | stale, run__status__in=list(FINISHED))
    ids = list(waiting.values_list("pk", flat=True)[:1000])
    for result_id in ids:
        task.delay(result_id)
    return len(ids)
