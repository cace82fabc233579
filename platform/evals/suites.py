"""Which linked project an instance's ``repo`` (owner/name) is, and what an import found."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from agents.instances import Problem
from projects.models import Project


def _normalised(url: str) -> str:
    return url.strip().rstrip("/").removesuffix(".git").lower()


def match_project(repo: str, projects: Iterable[Project]) -> Project | None:
    """The one project whose URL ends with ``owner/name``, else with ``name``; None when none or several do."""
    candidates = list(projects)
    wanted = repo.lower()
    name = wanted.rsplit("/", 1)[-1]
    full = [p for p in candidates if re.search(rf"[/:]{re.escape(wanted)}$", _normalised(p.repo_url))]
    if len(full) == 1:
        return full[0]
    named = [p for p in candidates if re.split(r"[/:]", _normalised(p.repo_url))[-1] == name]
    return named[0] if len(named) == 1 else None


@dataclass
class ImportReport:
    imported: int = 0
    problems: list[Problem] = field(default_factory=list)
    unlinked: dict[str, int] = field(default_factory=dict)
    """Repositories (owner/name) no linked project was found for, with their number of tasks."""
    linked: dict[str, str] = field(default_factory=dict)
    """Repository -> the project it was mapped to."""
