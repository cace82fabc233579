from __future__ import annotations

from typing import Any

from django.db import transaction
from django.forms.models import model_to_dict
from django.utils import timezone

from accounts import audit
from accounts.models import Team
from projects.models import Project

# Fields an audit entry may show: never the encrypted credentials.
_AUDITED = [
    "name", "default_branch", "test_command", "setup_command", "network_policy", "default_model", "memory_mb",
    "cpus", "pids_limit", "disk_mb", "command_timeout", "run_timeout", "max_steps", "max_cost",
    "max_concurrent_runs", "merge_strategy", "require_maintainer_approval", "require_passing_tests",
    "credentials_username",
]


def _snapshot(project: Project) -> dict[str, Any]:
    data = model_to_dict(project, fields=_AUDITED)
    data["has_credentials"] = project.has_credentials
    return {k: (str(v) if v is not None and not isinstance(v, (bool, int, str)) else v) for k, v in data.items()}


@transaction.atomic
def do_link_project(team: Team, actor: Any, project: Project, *, token: str, head_sha: str) -> Project:
    project.team = team
    project.created_by = actor
    if token:
        project.set_credentials(project.credentials_username or "x-access-token", token)
    project.head_sha = head_sha
    project.probed_at = timezone.now()
    project.save()
    audit.record(team, actor, "project.link", project, f"linked {project.name} ({project.repo_url})", after=_snapshot(project))
    return project


@transaction.atomic
def do_update_project(actor: Any, project: Project, before: dict[str, Any], *, token: str, clear: bool) -> Project:
    if clear:
        project.credentials_username = ""
        project.credentials_encrypted = ""
    elif token:
        project.set_credentials(project.credentials_username or "x-access-token", token)
    project.save()
    after = _snapshot(project)
    changed = {k for k in after if before.get(k) != after.get(k)}
    if changed:
        audit.record(
            project.team,
            actor,
            "project.settings",
            project,
            f"changed {', '.join(sorted(changed))} of {project.name}",
            before={k: before.get(k) for k in sorted(changed)},
            after={k: after[k] for k in sorted(changed)},
        )
    return project


snapshot = _snapshot
