"""The platform's view of sandboxes: which backend this worker uses, and a run's spec."""

from __future__ import annotations

import functools
import hashlib
import time
from pathlib import Path

from django.conf import settings

from agents.sandbox import get_backend
from agents.sandbox.base import (
    LABEL_PROJECT,
    LABEL_RUN,
    Backend,
    SandboxLimits,
    SandboxSpec,
)
from projects.models import NetworkPolicy, Project


@functools.cache
def backend_for_worker() -> Backend:
    name = settings.SLIPWAY_SANDBOX_BACKEND
    options: dict[str, str] = {}
    if name != "bubblewrap":  # docker options; "auto" hands each backend only what it takes
        options["image"] = settings.SLIPWAY_SANDBOX_IMAGE
        if settings.SLIPWAY_SANDBOX_RUNTIME:
            options["runtime"] = settings.SLIPWAY_SANDBOX_RUNTIME
    return get_backend(name, **options)


@functools.cache
def instance_id() -> str:
    """This installation, by its database: two installs sharing a sandbox host never reap each other's."""
    from django.db import connection

    db = connection.settings_dict
    key = f"{db.get('HOST')}:{db.get('PORT')}/{db.get('NAME')}"
    return hashlib.sha256(key.encode()).hexdigest()[:10]


def run_label(run_id: int, lease: str) -> str:
    """The value of a sandbox's run label: installation, run, and the lease of the worker holding it.

    A run resumed by another worker gets a new lease, so the reaper can tell the
    dead worker's sandbox from the live one although both belong to the same run.
    """
    return f"{instance_id()}/{run_id}:{lease}"


def parse_run_label(value: str) -> tuple[str, int, str] | None:
    instance, _, rest = value.partition("/")
    run, _, lease = rest.partition(":")
    try:
        return instance, int(run), lease
    except ValueError:
        return None


def limits_for(project: Project) -> SandboxLimits:
    return SandboxLimits(
        memory_mb=project.memory_mb,
        cpus=float(project.cpus),
        pids=project.pids_limit,
        disk_mb=project.disk_mb,
        command_timeout=float(project.command_timeout),
        sandbox_timeout=float(project.run_timeout) + 600,
    )


def spec_for(
    project: Project, run_id: int, lease: str, workspace: Path, *, setup: bool = False, readonly: tuple[tuple[Path, str], ...] = ()
) -> SandboxSpec:
    network = project.network_policy == NetworkPolicy.ALL or (setup and project.network_policy == NetworkPolicy.SETUP)
    return SandboxSpec(
        workspace=workspace,
        image=settings.SLIPWAY_SANDBOX_IMAGE,
        limits=limits_for(project),
        network=network,
        labels={LABEL_RUN: run_label(run_id, lease), LABEL_PROJECT: str(project.pk), "slipway.started": str(int(time.time()))},
        readonly_mounts=readonly,
    )
