"""Agent results for review tests, made the way the worker makes them, without a model.

``propose`` does what the pipeline does around the agent (``runs.pipeline``): a
workspace from the project's mirror on the run's branch, the agent's edits
committed as the agent, the branch published to the linked repository (with
the project's credentials) and fetched into the mirror, the run stored as
done, and the round finished, which proposes the best attempt through
``do_propose``.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings

from agents.git import GitCredentials
from agents.workspace import AGENT_EMAIL, AGENT_NAME, MirrorCache, Workspace, branch_name, prepare_workspace
from intents.actions import do_set_status
from intents.models import Intent, Status
from reviews.models import ChangeRequest
from runs.models import AgentRun, RunStatus
from runs.rounds import finish_round

FIXED = '''    return len(text.split())
'''
BUGGY = '''    return len(text.split(" "))
'''


def git(repo: Path, *args: str) -> str:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(repo),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_AUTHOR_NAME": "Carol Upstream",
        "GIT_AUTHOR_EMAIL": "carol@example.com",
        "GIT_COMMITTER_NAME": "Carol Upstream",
        "GIT_COMMITTER_EMAIL": "carol@example.com",
    }
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout.strip()


def credentials_of(project: Any) -> GitCredentials | None:
    if not project.has_credentials:
        return None
    return GitCredentials(project.credentials_username, project.credentials_token)


def mirror_of(project: Any) -> Path:
    """The project's mirror, fetched from the linked repository as a worker fetches it."""
    cache = MirrorCache(Path(settings.SLIPWAY_MIRROR_DIR))
    return cache.ensure(project.repo_url, f"project-{project.pk}", credentials=credentials_of(project), allow_local=True)


def textstats(fixed: bool = True) -> str:
    """The demo project's textstats.py, with the agent's fix or as it is."""
    from projects.demo import SOURCE

    text = (SOURCE / "textstats.py").read_text()
    return text.replace(BUGGY, FIXED) if fixed else text


def propose(
    intent: Intent,
    files: dict[str, str | bytes | None],
    *,
    attempt: int = 1,
    round: int = 1,
    summary: str = "Split on any whitespace, so repeated spaces no longer count as words.",
    resolved: bool | None = True,
    finish: bool = True,
    run: AgentRun | None = None,
    workspace: Workspace | None = None,
) -> AgentRun:
    """A finished run that changed ``files`` (None deletes one) on its branch; the round is finished unless told.

    ``workspace`` is one the pipeline prepared for ``run`` (a rebase merges the base in there);
    without one, a workspace is made from the mirror on the run's branch.
    """
    project = intent.project
    if workspace is None:
        mirror = mirror_of(project)
        branch = (run.branch if run and run.branch else "") or branch_name(intent.pk, intent.title, attempt)
        dest = Path(settings.SLIPWAY_WORKSPACE_DIR) / f"test-{uuid.uuid4().hex[:8]}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        workspace = prepare_workspace(mirror, dest, base=project.default_branch, branch=branch)
        base_sha = (run.base_sha if run and run.base_sha else "") or workspace.git("merge-base", f"origin/{project.default_branch}", "HEAD").strip()
    else:
        assert run is not None
        run.refresh_from_db()
        branch, base_sha, dest = run.branch, run.base_sha, workspace.path
    try:
        for name, content in files.items():
            target = dest / name
            if content is None:
                target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content) if isinstance(content, bytes) else target.write_text(content)
        head = workspace.commit_all(
            f"{intent.title}\n\n{summary}", author_name=AGENT_NAME, author_email=AGENT_EMAIL, trailers={"Intent-Id": str(intent.pk)}
        )
        assert head is not None, "the change changed nothing"
        diff = workspace.diff(base_sha)
        stat = workspace.diff_stat(base_sha)
        workspace.push(project.repo_url, branch, credentials_of(project), allow_local=True)
        mirror_of(project)
    finally:
        workspace.cleanup()
    intent.refresh_from_db()
    if intent.status in (Status.DRAFT, Status.FAILED, Status.CANCELLED):
        do_set_status(intent, Status.QUEUED)
    fields = dict(
        status=RunStatus.DONE,
        outcome="submitted",
        branch=branch,
        base_sha=base_sha,
        head_sha=head,
        diff=diff,
        diff_files=stat.files,
        diff_additions=stat.additions,
        diff_deletions=stat.deletions,
        summary=summary,
        steps=7,
        cost=Decimal("0.0123"),
        model_name="scripted",
        baseline={"command": "pytest", "exit_code": 1, "passed": 3, "failed": 1, "ok": False, "summary": "3 passed, 1 failed (exit code 1)"},
        final=(
            {"command": "pytest", "exit_code": 0, "passed": 4, "failed": 0, "ok": True, "summary": "4 passed, 0 failed"}
            if resolved
            else {"command": "pytest", "exit_code": 1, "passed": 3, "failed": 1, "ok": False, "summary": "3 passed, 1 failed (exit code 1)",
                  "failures": {"tests/test_textstats.py::test_repeated_spaces": "assert 4 == 2"}}
        ),
        reward={"resolved": resolved, "score": 1.0 if resolved else 0.0, "newly_passing": ["tests/test_textstats.py::test_repeated_spaces"] if resolved else [],
                "regressions": [], "still_failing": [], "tests_before": {}, "tests_after": {}, "diff": None},
        resolved=resolved,
        trajectory={"messages": [{"role": "user", "content": "Fix word_count"}], "tools": [], "reward": None, "metadata": {"format": "slipway-trajectory/1"}},
    )  # fmt: skip
    if run is None:
        run = AgentRun.objects.create(
            intent=intent, team_id=intent.team_id, project_id=intent.project_id, attempt=attempt, round=round, **fields
        )
    else:
        AgentRun.objects.filter(pk=run.pk).update(**fields)
        run.refresh_from_db()
    if finish:
        if intent.status == Status.QUEUED:
            do_set_status(intent, Status.RUNNING)
        finish_round(intent.pk, run.round)
    intent.refresh_from_db()
    return run


def fix_word_count(intent: Intent, **kwargs: Any) -> AgentRun:
    return propose(intent, {"textstats.py": textstats()}, **kwargs)


def change_request_of(intent: Intent) -> ChangeRequest:
    return ChangeRequest.objects.select_related("run", "project", "intent").get(intent=intent)
