"""Sandboxes: where every command the agent runs is executed.

Backends are registered by dotted path, so importing this package never
imports the Docker SDK for a host that only has bubblewrap::

    backend = get_backend("auto", image="slipway-sandbox:latest")
    with backend.start(SandboxSpec(workspace=path, labels={LABEL_RUN: "42"})) as sandbox:
        result = sandbox.exec("python3 -m pytest -q", timeout=600)
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from agents.sandbox.base import (
    LABEL_CREATED,
    LABEL_DEADLINE,
    LABEL_PROJECT,
    LABEL_RUN,
    WORKSPACE,
    Backend,
    ExecResult,
    OutputCallback,
    Sandbox,
    SandboxError,
    SandboxLimits,
    SandboxSpec,
)

BACKENDS = {
    "docker": "agents.sandbox.docker.DockerBackend",
    "bubblewrap": "agents.sandbox.bubblewrap.BubblewrapBackend",
}

__all__ = [
    "BACKENDS",
    "LABEL_CREATED",
    "LABEL_DEADLINE",
    "LABEL_PROJECT",
    "LABEL_RUN",
    "WORKSPACE",
    "Backend",
    "ExecResult",
    "OutputCallback",
    "Sandbox",
    "SandboxError",
    "SandboxLimits",
    "SandboxSpec",
    "get_backend",
]


def get_backend(name: str, **options: Any) -> Backend:
    """The backend called ``name``, or for ``"auto"`` the first usable of docker, then bubblewrap.

    ``options`` go to the backend's constructor: docker takes ``image``, ``runtime``
    (an OCI runtime such as ``runsc``) and ``base_url``; bubblewrap takes ``state_dir``.
    With ``"auto"`` each backend gets only the options it knows.
    """
    if name != "auto":
        if name not in BACKENDS:
            raise SandboxError(f"unknown sandbox backend {name!r}: choose one of auto, {', '.join(BACKENDS)}")
        return _load(name)(**options)
    problems = []
    for candidate in BACKENDS:
        try:
            backend_class = _load(candidate)
        except ImportError as exc:
            problems.append(f"{candidate}: cannot import it ({exc})")
            continue
        accepted = inspect.signature(backend_class).parameters
        backend = backend_class(**{key: value for key, value in options.items() if key in accepted})
        problem = backend.check()
        if problem is None:
            return backend
        problems.append(f"{candidate}: {problem}")
    raise SandboxError(
        "no sandbox backend is usable here (" + "; ".join(problems) + "). Install one: Docker "
        "(apt-get install -y docker.io, then `make sandbox-image`) or bubblewrap (apt-get install -y bubblewrap)."
    )


def _load(name: str) -> Any:
    module, _, attribute = BACKENDS[name].rpartition(".")
    return getattr(importlib.import_module(module), attribute)
