"""Dataset exports: a team's finished runs, filtered, as JSONL in one of ``agents.export.FORMATS``.

Rows stream from the database (a server-side cursor, ``iterator(chunk_size=...)``,
only the columns a line needs), so memory stays flat however many runs there
are. Every line is redacted again with the team's model API keys, repository
tokens and the server's own secrets before it is written: a secret that slipped
into a trajectory or a patch never leaves in an export.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import OuterRef, QuerySet, Subquery
from django.urls import reverse
from django.utils import timezone

from agents.export import FORMATS, Skip, openai_record, swebench_prediction, trl_record
from agents.redact import Redactor
from evals.models import EvalResult, Export, ExportStatus
from evals.rewards import reward_dict, verdict_filter, verdict_of, with_verdict
from projects.models import Project
from runs.models import AgentRun, ModelConfig, RunStatus

log = logging.getLogger(__name__)

INLINE_MAX = 1000
"""Exports of more runs than this run in the background; smaller ones stream straight to the browser."""
CHUNK_SIZE = 100
"""Rows fetched per round trip: bounds memory (trajectories can be large) without a query per row."""
PROGRESS_EVERY = 250

OUTCOMES = {
    "any": "Any outcome",
    "resolved": "Resolved by the tests",
    "approved": "Approved by a person (or merged)",
    "merged": "Merged",
}
_COLUMNS = (
    "pk", "intent_id", "intent__title", "project_id", "project__name", "model_id", "model__name", "model_name",
    "attempt", "round", "kind", "status", "outcome", "resolved", "reward", "base_sha", "head_sha", "branch",
    "created_at", "started_at", "finished_at", "cost", "prompt_tokens", "completion_tokens",
    "cr_status", "last_decision", "instance_id",
)  # fmt: skip


@dataclass(frozen=True)
class Filters:
    project: int | None = None
    model: int | None = None
    since: date | None = None
    until: date | None = None
    """Both inclusive, on the day the run finished (UTC)."""
    outcome: str = "any"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["since"] = self.since.isoformat() if self.since else None
        data["until"] = self.until.isoformat() if self.until else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Filters:
        return cls(
            project=data.get("project"),
            model=data.get("model"),
            since=_day(data.get("since")),
            until=_day(data.get("until")),
            outcome=data.get("outcome") or "any",
        )


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def runs_for(team_id: int, filters: Filters, format: str) -> QuerySet[AgentRun]:
    """The runs an export takes: finished (done or failed), in run order."""
    runs = AgentRun.objects.filter(team_id=team_id, status__in=[RunStatus.DONE, RunStatus.FAILED])
    if format != "swebench":
        runs = runs.filter(trajectory__isnull=False)
    if filters.project:
        runs = runs.filter(project_id=filters.project)
    if filters.model:
        runs = runs.filter(model_id=filters.model)
    if filters.since:
        runs = runs.filter(finished_at__date__gte=filters.since)
    if filters.until:
        runs = runs.filter(finished_at__date__lte=filters.until)
    runs = with_verdict(runs)
    if filters.outcome == "resolved":
        runs = runs.filter(resolved=True)
    elif filters.outcome in ("approved", "merged"):
        runs = runs.filter(verdict_filter(filters.outcome))
    instance = EvalResult.objects.filter(run_id=OuterRef("pk")).values("task__instance_id")[:1]
    return runs.annotate(instance_id=Subquery(instance)).order_by("pk")


def redactor_for(team_id: int) -> Redactor:
    """Every secret this team's runs could have met: model keys, repository tokens, the server's own."""
    found: list[str] = [
        settings.SECRET_KEY,
        settings.SLIPWAY_MODEL_API_KEY,
        *settings.SLIPWAY_ENCRYPTION_KEYS,
    ]
    for config in ModelConfig.objects.filter(team_id=team_id).exclude(api_key_encrypted=""):
        found.append(_decrypted(lambda c=config: c.api_key))
    for project in Project.objects.filter(team_id=team_id).exclude(credentials_encrypted=""):
        found.append(_decrypted(lambda p=project: p.credentials_token))
    return Redactor(found)


def _decrypted(read: Any) -> str:
    try:
        return str(read())
    except Exception:  # a key encrypted under a retired key: it cannot be in a new line either way
        return ""


class Lines:
    """The export's lines as bytes; counts what it wrote and skipped as it goes."""

    def __init__(self, team_id: int, filters: Filters, format: str, *, extras: bool = True) -> None:
        if format not in FORMATS:
            raise ValueError(f"unknown export format {format!r}: choose one of {', '.join(FORMATS)}")
        self.team_id, self.filters, self.format, self.extras = team_id, filters, format, extras
        self.written = 0
        self.skipped = 0
        self.skips: dict[str, int] = {}
        """Why runs were skipped, and how many for each reason."""

    def count(self) -> int:
        return runs_for(self.team_id, self.filters, self.format).count()

    def __iter__(self) -> Iterator[bytes]:
        redactor = redactor_for(self.team_id)
        body = "diff" if self.format == "swebench" else "trajectory"
        rows = runs_for(self.team_id, self.filters, self.format).values(*_COLUMNS, body)
        for row in rows.iterator(chunk_size=CHUNK_SIZE):
            try:
                line = self._line(row)
            except Skip as skip:
                self.skipped += 1
                self.skips[str(skip)] = self.skips.get(str(skip), 0) + 1
                continue
            self.written += 1
            yield (json.dumps(redactor.deep(line), ensure_ascii=False) + "\n").encode()

    def _line(self, row: dict[str, Any]) -> dict[str, Any]:
        extras = {"reward": _reward(row), "metadata": _metadata(row)} if self.extras else None
        if self.format == "swebench":
            instance_id = row["instance_id"] or f"slipway-run-{row['pk']}"
            return swebench_prediction(instance_id, _model_label(row), row["diff"] or "", extras=extras)
        make = openai_record if self.format == "openai" else trl_record
        return make(row["trajectory"], extras=extras)


def _model_label(row: dict[str, Any]) -> str:
    return row["model__name"] or row["model_name"] or "unknown"


def _reward(row: dict[str, Any]) -> dict[str, Any]:
    return reward_dict(row["reward"], row["resolved"], verdict_of(row["cr_status"], row["last_decision"]))


def _metadata(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "source": "slipway",
        "run_id": row["pk"],
        "run_url": reverse("run_detail", args=[row["pk"]]),
        "intent_id": row["intent_id"],
        "intent_title": row["intent__title"],
        "project_id": row["project_id"],
        "project": row["project__name"],
        "model_config_id": row["model_id"],
        "model_config": _model_label(row),
        "model": row["model_name"],
        "attempt": row["attempt"],
        "round": row["round"],
        "kind": row["kind"],
        "status": row["status"],
        "outcome": row["outcome"],
        "instance_id": row["instance_id"],
        "base_sha": row["base_sha"],
        "head_sha": row["head_sha"],
        "branch": row["branch"],
        "created_at": _iso(row["created_at"]),
        "started_at": _iso(row["started_at"]),
        "finished_at": _iso(row["finished_at"]),
        "cost": float(row["cost"]),
        "prompt_tokens": row["prompt_tokens"],
        "completion_tokens": row["completion_tokens"],
    }


def export_path(export: Export) -> Path:
    return Path(settings.SLIPWAY_DATA_DIR) / "exports" / str(export.team_id) / f"{export.pk}.jsonl"


def write_export(export_id: int) -> str:
    """Write a queued export to its file, with progress on its row; safe to run twice. Returns its status."""
    now = timezone.now()
    if (
        Export.objects.filter(pk=export_id, status=ExportStatus.QUEUED).update(
            status=ExportStatus.RUNNING, started_at=now
        )
        != 1
    ):
        return "skipped"
    export = Export.objects.get(pk=export_id)
    lines = Lines(export.team_id, Filters.from_dict(export.filters), export.format, extras=export.extras)
    final = export_path(export)
    part = final.with_name(final.name + ".part")
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        Export.objects.filter(pk=export_id).update(total=lines.count())
        reported = 0
        with open(part, "wb") as handle:
            for line in lines:
                handle.write(line)
                if lines.written + lines.skipped - reported >= PROGRESS_EVERY:
                    reported = lines.written + lines.skipped
                    Export.objects.filter(pk=export_id).update(written=lines.written, skipped=lines.skipped)
        part.rename(final)
    except Exception as exc:
        log.exception("export %s failed", export_id)
        part.unlink(missing_ok=True)
        Export.objects.filter(pk=export_id).update(
            status=ExportStatus.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )
        return ExportStatus.FAILED
    Export.objects.filter(pk=export_id).update(
        status=ExportStatus.DONE,
        written=lines.written,
        skipped=lines.skipped,
        size=final.stat().st_size,
        path=str(final),
        notes="; ".join(f"{n} skipped: {why}" for why, n in lines.skips.items())[:2000],
        finished_at=timezone.now(),
    )
    return ExportStatus.DONE
