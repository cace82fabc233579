"""One agent run, from claim to change request. Called by the thin Celery task.

The steps, each a function tested on its own: claim the run (a conditional
UPDATE, so a second delivery is a no-op), prepare the workspace from the
mirror, start the sandbox, set up, run the agent with an event sink that
persists and publishes, run the final tests, commit, diff, and hand the
result to ``finish_round``, which proposes the best attempt for review.
"""

from __future__ import annotations

import concurrent.futures
import logging
import socket
import threading
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from agents.config import AgentConfig
from agents.config import ModelConfig as AgentModelConfig
from agents.git import GitCredentials, GitError
from agents.llm import make_model
from agents.loop import run_agent
from agents.sandbox.base import Sandbox, SandboxError
from agents.task import ResumeState, RunResult, Task
from agents.workspace import MirrorCache, Workspace, branch_name, prepare_workspace
from intents.models import Status
from runs import broadcast
from runs.models import AgentRun, ModelConfig, RunStatus
from runs.recorder import EventRecorder
from runs.sandboxes import backend_for_worker, spec_for

log = logging.getLogger(__name__)

AGENT_NAME = "Slipway Agent"
AGENT_EMAIL = "agent@slipway.local"
SNAPSHOT_PREFIX = "refs/slipway/runs"  # hidden refs: never fetched, never pushed


class RunGone(Exception):
    """The run was cancelled or taken by someone else while we worked."""


# -- claiming ------------------------------------------------------------------


def claim_run(run_id: int, lease: str, worker: str) -> AgentRun | None:
    """Take the run if it is still waiting for this dispatch; None when another delivery got there first."""
    now = timezone.now()
    claimed = AgentRun.objects.filter(pk=run_id, status=RunStatus.QUEUED, lease=lease, cancel_requested=False).update(
        status=RunStatus.RUNNING, worker=worker, heartbeat_at=now
    )
    if claimed != 1:
        return None
    run = AgentRun.objects.select_related("intent", "project", "team", "model").get(pk=run_id)
    if run.started_at is None:
        AgentRun.objects.filter(pk=run_id).update(started_at=now)
        run.started_at = now
    return run


# -- configuration ---------------------------------------------------------------


def model_config_for(run: AgentRun) -> AgentModelConfig:
    if run.model is None:
        raise ValueError("the run's model configuration was deleted")
    return replace(model_config_for_model(run.model), seed=run.seed)


def model_config_for_model(config: ModelConfig) -> AgentModelConfig:
    per_million = Decimal(1_000_000)
    return AgentModelConfig(
        model=config.model,
        provider=config.provider,  # type: ignore[arg-type]
        base_url=config.base_url or None,
        api_key=config.api_key,
        input_cost_per_token=float(config.input_price / per_million),
        output_cost_per_token=float(config.output_price / per_million),
        context_window=config.context_window,
        tool_mode="text" if config.tool_mode == "text" else "native",
        request_timeout=settings.SLIPWAY_MODEL_TIMEOUT,
        max_retries=settings.SLIPWAY_MODEL_RETRIES,
        retry_backoff=settings.SLIPWAY_MODEL_BACKOFF,
    )


def agent_config_for(run: AgentRun, secrets_: tuple[str, ...]) -> AgentConfig:
    project = run.project
    return AgentConfig(
        max_steps=project.max_steps,
        max_cost=float(project.max_cost),
        wall_clock=float(project.run_timeout),
        command_timeout=float(project.command_timeout),
        test_timeout=float(project.command_timeout),
        require_plan_approval=run.intent.requires_plan_approval and not run.approved_plan and run.kind == "implement",
        secrets=secrets_,
    )


def task_for(run: AgentRun) -> Task:
    intent = run.intent
    description = intent.description
    if run.kind == "rebase":
        description = (
            f"{description}\n\nThe base branch `{run.project.default_branch}` moved and this change no longer "
            "applies. The workspace holds the branch merged with the new base, with conflict markers where they "
            "clash. Resolve every conflict, keep the intent's change, and keep the tests green."
        )
    return Task(
        title=intent.title,
        description=description,
        acceptance_criteria=intent.acceptance_criteria,
        test_command=run.project.test_command,
        review_feedback=tuple(run.feedback or ()),
        approved_plan=run.approved_plan or None,
    )


# -- the workspace -----------------------------------------------------------------


def credentials_for(run: AgentRun) -> GitCredentials | None:
    project = run.project
    if not project.has_credentials:
        return None
    return GitCredentials(project.credentials_username or "x-access-token", project.credentials_token)


def workspace_path(run_id: int) -> Path:
    return Path(settings.SLIPWAY_WORKSPACE_DIR) / f"run-{run_id}"


def mirror_for(run: AgentRun) -> Path:
    project = run.project
    return MirrorCache(Path(settings.SLIPWAY_MIRROR_DIR)).ensure(
        project.repo_url, f"project-{project.pk}", credentials=credentials_for(run), allow_local=settings.SLIPWAY_ALLOW_LOCAL_REPOS
    )


def prepare(run: AgentRun, recorder: EventRecorder) -> Workspace:
    """The run's working tree: reused when a resumed run's is still there, else fresh from the mirror."""
    project = run.project
    dest = workspace_path(run.pk)
    git_dir = dest.with_name(dest.name + ".git")
    branch = run.branch or branch_name(run.intent_id, run.intent.title, run.attempt)
    if run.snapshot_ref and dest.is_dir() and git_dir.is_dir():
        mirror = MirrorCache(Path(settings.SLIPWAY_MIRROR_DIR)).mirror_path(f"project-{project.pk}")
        workspace = Workspace(path=dest, git_dir=git_dir, mirror=mirror, branch=branch, base=run.base_sha)
        recorder.record("status", status="restoring", detail=f"restoring the workspace from {run.snapshot_ref}")
        workspace.restore(run.snapshot_ref)
        return workspace
    if dest.exists() or git_dir.exists():
        # Left by an earlier attempt of this run that cannot be resumed: start clean.
        Workspace(path=dest, git_dir=git_dir, mirror=dest, branch=branch, base="").cleanup()
    recorder.record("status", status="fetching", detail=f"fetching {project.default_branch} into the mirror")
    mirror = mirror_for(run)
    pinned = run.intent.base_commit  # an evaluation task starts at its own commit
    workspace = prepare_workspace(mirror, dest, base=pinned or project.default_branch, branch=branch)
    base_ref = f"refs/remotes/origin/{project.default_branch}"
    if run.kind == "rebase":
        recorder.record("status", status="rebasing", detail=f"merging the new {project.default_branch} into {branch}")
        merged = workspace._run("merge", "--no-edit", "--no-ff", base_ref, check=False, env=_agent_identity())
        if merged.returncode != 0:
            conflicted = workspace.git("diff", "--name-only", "--diff-filter=U").split()
            recorder.record("status", status="conflicts", detail="conflicts in " + ", ".join(conflicted[:20]))
    if pinned:
        base_sha = workspace.resolve(pinned) or workspace.base
    elif run.kind == "rebase":
        # Measured against the new base: the merge that brings it in is committed at the end.
        base_sha = workspace.resolve(base_ref) or workspace.base
    elif workspace.continued:
        # The change is measured from where the branch left the base, across every round.
        base_sha = workspace.git("merge-base", base_ref, "HEAD").strip() or workspace.base
    else:
        base_sha = workspace.base  # a new branch starts at the base's tip
    AgentRun.objects.filter(pk=run.pk).update(branch=branch, base_sha=base_sha)
    run.branch, run.base_sha = branch, base_sha
    return workspace


def _agent_identity() -> dict[str, str]:
    return {"GIT_AUTHOR_NAME": AGENT_NAME, "GIT_AUTHOR_EMAIL": AGENT_EMAIL, "GIT_COMMITTER_NAME": AGENT_NAME, "GIT_COMMITTER_EMAIL": AGENT_EMAIL}


def publish(run: AgentRun, workspace: Workspace) -> None:
    """Push the run's branch to the linked repository, where people and other tools find it, and
    into the mirror too (a local push, cheaper than fetching it back), where merges read it.
    The two pushes are independent, so they run side by side."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="push") as pool:
        pushes = [
            pool.submit(
                workspace.push, run.project.repo_url, run.branch, credentials_for(run),
                allow_local=settings.SLIPWAY_ALLOW_LOCAL_REPOS,
            ),
            pool.submit(workspace.push, str(workspace.mirror), run.branch, allow_local=True),
        ]
        for push in pushes:
            push.result()


# -- the run ---------------------------------------------------------------------------


@dataclass
class Heartbeat:
    """Beats on the run row while it works, and notices a cancel request."""

    run_id: int
    interval: float
    sandbox: Sandbox | None = None

    def __post_init__(self) -> None:
        self.cancelled = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{self.run_id}", daemon=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                AgentRun.objects.filter(pk=self.run_id).update(heartbeat_at=timezone.now())
                if AgentRun.objects.filter(pk=self.run_id, cancel_requested=True).exists() and not self.cancelled.is_set():
                    self.cancelled.set()
                    # Stop the sandbox so a long command ends now, not at its timeout.
                    if self.sandbox is not None:
                        try:
                            self.sandbox.stop()
                        except Exception:
                            log.warning("stopping the sandbox of cancelled run %s failed", self.run_id, exc_info=True)
        finally:
            connection.close()


def relax_durability() -> None:
    """This session's commits return before the WAL reaches the disk.

    A worker writes many small rows (events, heartbeats, step state); waiting for
    an fsync on each (2 to 5 ms here) is most of the platform's cost per step. A
    crash of PostgreSQL itself may lose the last fraction of a second of them; a
    crash of the worker loses nothing that was committed.
    """
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO off")


def execute(run_id: int, lease: str, worker: str = "") -> str:
    """Run one claimed agent run to its end; return its final status (or 'skipped')."""
    relax_durability()
    run = claim_run(run_id, lease, worker or socket.gethostname())
    if run is None:
        log.info("run %s: not claimable with lease %s (already taken, cancelled or gone)", run_id, lease)
        return "skipped"
    from intents.actions import do_set_status

    if run.intent.status in (Status.QUEUED, Status.CHANGES_REQUESTED, Status.IN_REVIEW, Status.APPROVED):
        do_set_status(run.intent, Status.RUNNING)
    broadcast.run_changed(run)
    recorder = EventRecorder(run)
    heartbeat = Heartbeat(run.pk, settings.SLIPWAY_HEARTBEAT_SECONDS).start()
    sandbox: Sandbox | None = None
    workspace: Workspace | None = None
    resume = ResumeState.from_dict(run.state) if run.state else None
    try:
        if resume is not None and run.resumes and not run.approved_plan:
            recorder.record("status", status="resumed", detail=f"resuming after a lost worker at step {resume.steps}", step=resume.steps)
        workspace = prepare(run, recorder)
        backend = backend_for_worker()
        if run.project.setup_command and resume is None:
            setup(run, backend, workspace, recorder)
        spec = spec_for(run.project, run.pk, lease, workspace.path, readonly=workspace.readonly_mounts)
        recorder.record("status", status="sandbox", detail=f"starting a {backend.name} sandbox")
        sandbox = backend.start(spec)
        heartbeat.sandbox = sandbox
        model_config = model_config_for(run)
        secrets_ = tuple(s for s in (run.project.credentials_token if run.project.has_credentials else "",) if s)
        step_saver = StepSaver(run, workspace)
        result = run_agent(
            task_for(run),
            sandbox=sandbox,
            model=make_model(model_config),
            config=agent_config_for(run, secrets_),
            sink=recorder,
            should_cancel=heartbeat.cancelled.is_set,
            on_step=step_saver,
            resume=resume,
        )
        recorder.close()
        if heartbeat.cancelled.is_set():
            return cancelled(run, recorder)
        return conclude(run, result, workspace, recorder)
    except RunGone:
        return "gone"
    except (GitError, SandboxError, OSError, ValueError) as exc:
        recorder.record("error", message=str(exc), reason="infrastructure")
        recorder.close()
        return fail(run, f"{exc}")
    except Exception as exc:
        log.exception("run %s crashed", run_id)
        recorder.record("error", message=f"internal error: {type(exc).__name__}", reason="error")
        recorder.close()
        return fail(run, f"internal error: {type(exc).__name__}: {exc}")
    finally:
        heartbeat.stop()
        recorder.close()
        if sandbox is not None:
            try:
                sandbox.stop()
            except Exception:
                log.warning("stopping the sandbox of run %s failed", run_id, exc_info=True)
        run.refresh_from_db(fields=["status"])
        # Keep the workspace while a person must approve the plan: the run resumes in it.
        if workspace is not None and run.status != RunStatus.AWAITING_PLAN:
            workspace.cleanup()
        from runs.dispatch import dispatch_queued_runs
        from runs.tasks import stock_workspaces

        dispatch_queued_runs()
        try:
            stock_workspaces.apply_async(args=[run.project_id], queue="default")
        except Exception:  # a spare is an optimisation: never fail a run for it
            log.warning("could not ask for a spare workspace of project %s", run.project_id, exc_info=True)


def setup(run: AgentRun, backend: Any, workspace: Workspace, recorder: EventRecorder) -> None:
    """The project's setup command, in a sandbox of its own (the only one that may have network)."""
    spec = spec_for(run.project, run.pk, f"setup-{run.lease}", workspace.path, setup=True, readonly=workspace.readonly_mounts)
    recorder.record("status", status="setup", detail=run.project.setup_command)
    with backend.start(spec) as box:
        result = box.exec(
            run.project.setup_command,
            timeout=float(run.project.command_timeout),
            on_output=lambda chunk: recorder.record("command_output", id="setup", chunk=chunk),
        )
    if result.exit_code != 0:
        raise ValueError(f"the setup command failed with exit code {result.exit_code}: {result.output[-500:]}")


# Tools that leave the workspace as it was: a step that used only these needs no new snapshot.
# Test runs count as such: test output is ignored or regenerated by the next run after a resume.
READ_ONLY_TOOLS = frozenset({"view_file", "search", "run_tests", "submit"})


class StepSaver:
    """After each agent step: snapshot the workspace on a hidden ref and store the history."""

    def __init__(self, run: AgentRun, workspace: Workspace) -> None:
        self.run = run
        self.workspace = workspace
        self.ref = run.snapshot_ref

    def __call__(self, step: int, state: ResumeState) -> None:
        calls = state.step_records[-1].get("tool_calls", []) if state.step_records else []
        # Until the first change there is nothing to snapshot: a resume starts from a fresh checkout.
        if any(call.get("name") not in READ_ONLY_TOOLS for call in calls):
            self.ref = f"{SNAPSHOT_PREFIX}/{self.run.pk}/{step}"
            self.workspace.snapshot(self.ref)
        updated = AgentRun.objects.filter(pk=self.run.pk, status=RunStatus.RUNNING).update(
            state=state.to_dict(), snapshot_ref=self.ref, steps=state.steps, heartbeat_at=timezone.now()
        )
        if updated != 1:
            raise RunGone(f"run {self.run.pk} is no longer running")


def conclude(run: AgentRun, result: RunResult, workspace: Workspace, recorder: EventRecorder) -> str:
    """Commit, diff and store the result; then let the round decide what goes to review."""
    if result.outcome == "awaiting_plan_approval":
        workspace.snapshot(f"{SNAPSHOT_PREFIX}/{run.pk}/plan")
        with transaction.atomic():
            AgentRun.objects.filter(pk=run.pk).update(
                status=RunStatus.AWAITING_PLAN,
                plan=result.plan or "",
                state=result.state.to_dict(),
                snapshot_ref=f"{SNAPSHOT_PREFIX}/{run.pk}/plan",
                steps=result.steps,
                lease="",
            )
            run.refresh_from_db()
            broadcast.run_changed(run)
        return RunStatus.AWAITING_PLAN

    if (workspace.git_dir / "MERGE_HEAD").exists():
        # A rebase run: the merge of the new base is committed even when the resolution equals HEAD's tree.
        workspace.git("add", "--all")
        workspace.git("commit", "--quiet", "--no-verify", "--no-edit", env=_agent_identity())
    head = workspace.commit_all(
        f"{run.intent.title}\n\n{result.summary or result.reason}".strip(),
        author_name=AGENT_NAME,
        author_email=AGENT_EMAIL,
        trailers={"Intent-Id": str(run.intent_id), "Run-Id": str(run.pk)},
    )
    head = head or workspace.head()
    # Everything is committed now: the diff is between two commits, no need to hash the tree again.
    diff = workspace.diff(run.base_sha, head)
    stat = workspace.diff_stat(run.base_sha, head)
    if diff:
        recorder.record("diff", files=stat.files, additions=stat.additions, deletions=stat.deletions)
        recorder.close()
    ok = result.outcome == "submitted" and bool(diff)
    reason = result.reason if not ok else ""
    if result.outcome == "submitted" and not diff:
        reason = "the agent submitted without changing anything"
    if ok and head != run.base_sha:
        # Only proposals leave the worker: a failed attempt's branch would block a retry's push.
        publish(run, workspace)
    status = RunStatus.DONE if ok else (RunStatus.CANCELLED if result.outcome == "cancelled" else RunStatus.FAILED)
    reward = result.reward.to_dict() if result.reward else None
    with transaction.atomic():
        AgentRun.objects.filter(pk=run.pk).update(
            status=status,
            outcome=result.outcome,
            reason=reason[:5000],
            plan=result.plan or run.plan,
            summary=result.summary,
            steps=result.steps,
            prompt_tokens=result.usage.prompt_tokens,
            completion_tokens=result.usage.completion_tokens,
            cost=Decimal(str(round(result.usage.cost, 6))),
            baseline=result.baseline.to_dict() if result.baseline else None,
            final=result.final.to_dict() if result.final else None,
            reward=reward,
            resolved=(reward or {}).get("resolved"),
            head_sha=head,
            diff=diff,
            diff_files=stat.files,
            diff_additions=stat.additions,
            diff_deletions=stat.deletions,
            state=result.state.to_dict(),
            trajectory=result.trajectory.to_record(),
            finished_at=timezone.now(),
            lease="",
        )
        run.refresh_from_db()
        broadcast.run_changed(run)
        from runs.rounds import finish_round

        finish_round(run.intent_id, run.round)
    return status


def cancelled(run: AgentRun, recorder: EventRecorder) -> str:
    """A person cancelled while it ran: whatever the loop made of its stopped sandbox, the run is cancelled."""
    recorder.record("status", status="cancelled", detail="cancelled by a person; the sandbox was removed")
    recorder.close()
    with transaction.atomic():
        AgentRun.objects.filter(pk=run.pk).update(
            status=RunStatus.CANCELLED, outcome="cancelled", reason="cancelled while running", finished_at=timezone.now(), lease=""
        )
        run.refresh_from_db()
        broadcast.run_changed(run)
        from runs.rounds import finish_round

        finish_round(run.intent_id, run.round)
    return RunStatus.CANCELLED


def fail(run: AgentRun, reason: str) -> str:
    with transaction.atomic():
        updated = AgentRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(
            status=RunStatus.FAILED, outcome="error", reason=reason[:5000], finished_at=timezone.now(), lease=""
        )
        if updated:
            run.refresh_from_db()
            broadcast.run_changed(run)
            from runs.rounds import finish_round

            finish_round(run.intent_id, run.round)
    return RunStatus.FAILED
