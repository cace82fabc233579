"""The dashboard's filters, read from the URL so that every view can be linked and exported.

One ``Filters`` object scopes every query of the dashboard to the team first; the
other filters narrow intents, runs and change requests in the same way everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from accounts.models import Membership, Team
from intents.models import LABEL_MAX, Status
from projects.models import Project
from runs.models import AgentRun, ModelConfig

PERIODS = {"7": 7, "30": 30, "90": 90}
DEFAULT_PERIOD = "30"
MAX_CUSTOM_DAYS = 366
# The names a URL may carry; anything else in the query string is ignored.
PARAMS = ("period", "from", "to", "project", "model", "requester", "label", "status")


@dataclass(frozen=True)
class Filters:
    team: Team
    now: datetime
    start: datetime
    end: datetime
    period: str = DEFAULT_PERIOD
    project: int | None = None
    model: int | None = None
    requester: str = ""
    label: str = ""
    status: str = ""
    custom: tuple[str, str] = ("", "")
    choices: dict[str, Any] = field(default_factory=dict, compare=False)

    # -- the period and the one before it, of the same length ------------------

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    @property
    def prev_start(self) -> datetime:
        return self.start - self.length

    @property
    def days(self) -> int:
        return max(1, round(self.length.total_seconds() / 86400))

    @property
    def bucket(self) -> str:
        """Charts over time use days up to a month, weeks beyond."""
        return "day" if self.days <= 31 else "week"

    # -- the same narrowing for each kind of row -----------------------------

    def intents(self) -> Q:
        """Intents of the team matching the filters (any period)."""
        q = self._of_intent("")
        if self.model:
            q &= Exists(AgentRun.objects.filter(intent_id=OuterRef("pk"), model_id=self.model))
        return q

    def runs(self) -> Q:
        """Runs of the team matching the filters: the model filter picks runs, the others their intents."""
        q = self._of_intent("intent__")
        if self.model:
            q &= Q(model_id=self.model)
        return q

    def change_requests(self) -> Q:
        q = self._of_intent("intent__")
        if self.model:
            q &= Exists(AgentRun.objects.filter(intent_id=OuterRef("intent_id"), model_id=self.model))
        return q

    def _of_intent(self, path: str) -> Q:
        """The team, the project and the filters on the intent, reached through ``path`` ('' or 'intent__')."""
        q = Q(team=self.team)
        if self.project:
            q &= Q(project_id=self.project)
        if self.requester:
            q &= Q(**{f"{path}author__username": self.requester})
        if self.label:
            q &= Q(**{f"{path}labels__contains": [self.label]})
        if self.status:
            q &= Q(**{f"{path}status": self.status})
        return q

    @property
    def narrowed(self) -> bool:
        return bool(self.project or self.model or self.requester or self.label or self.status)

    # -- the URL ----------------------------------------------------------------

    def params(self) -> dict[str, str]:
        values: dict[str, str] = {"period": self.period}
        if self.period == "custom":
            values["from"], values["to"] = self.custom
        for key in ("project", "model", "requester", "label", "status"):
            value = getattr(self, key)
            if value:
                values[key] = str(value)
        return values

    def querystring(self) -> str:
        return urlencode(self.params())


def _parse_date(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        return None


def _int_in(raw: str, allowed: set[int] | None) -> int | None:
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if allowed is None or value in allowed else None


def filter_choices(team: Team) -> dict[str, Any]:
    """What the filter form offers: the team's own projects, models, people and labels."""
    return {**_team_choices(team), "labels": labels_of(team), "statuses": list(Status.choices)}


def _team_choices(team: Team) -> dict[str, Any]:
    return {
        "projects": list(Project.objects.filter(team=team).order_by("name").values_list("pk", "name")),
        "models": list(ModelConfig.objects.filter(team=team).order_by("name").values_list("pk", "name")),
        "requesters": list(
            Membership.objects.filter(team=team).order_by("user__username").values_list("user__username", flat=True)
        ),
    }


LABELS_TTL = 300


def labels_of(team: Team) -> list[str]:
    """Every label the team has used, for the filter. Cached for a few minutes: the DISTINCT over
    unnest() reads every intent of the team (50 ms at 40,000 intents), and a label that is new in
    the last minutes can wait to be offered."""
    from django.core.cache import cache
    from django.db import connection

    # The team's creation time in the key: a team id reused by a new database never reads old labels.
    key = f"dashboard:labels:{team.pk}:{int(team.created_at.timestamp())}"
    labels = cache.get(key)
    if labels is None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT DISTINCT label FROM intents_intent, unnest(labels) AS label WHERE team_id = %s ORDER BY label LIMIT 200",
                [team.pk],
            )
            labels = [row[0] for row in cursor.fetchall()]
        cache.set(key, labels, LABELS_TTL)
    return labels


def parse_filters(team: Team, params: Any, *, now: datetime | None = None, with_choices: bool = True) -> Filters:
    """Filters from a query string; values that are not the team's own are dropped, never trusted."""
    now = now or timezone.now()
    choices = filter_choices(team) if with_choices else {}
    period = params.get("period") or DEFAULT_PERIOD
    custom = ("", "")
    if period == "custom":
        first, last = _parse_date(params.get("from") or ""), _parse_date(params.get("to") or "")
        if first and last and first <= last and (last - first).days < MAX_CUSTOM_DAYS:
            start = datetime.combine(first, time.min, tzinfo=timezone.get_current_timezone())
            end = min(datetime.combine(last + timedelta(days=1), time.min, tzinfo=start.tzinfo), now)
            custom = (first.isoformat(), last.isoformat())
            if end <= start:
                period = DEFAULT_PERIOD
        else:
            period = DEFAULT_PERIOD
    elif period not in PERIODS:
        period = DEFAULT_PERIOD
    if period != "custom":
        end = now
        start = now - timedelta(days=PERIODS[period])
    # Every query is scoped to the team anyway: an id of another team's project finds nothing.
    # With the choices at hand, unknown values are dropped so the form shows what is applied.
    project = _int_in(params.get("project") or "", {pk for pk, _ in choices["projects"]} if with_choices else None)
    model = _int_in(params.get("model") or "", {pk for pk, _ in choices["models"]} if with_choices else None)
    requester = (params.get("requester") or "").strip()[:150]
    if with_choices and requester not in choices["requesters"]:
        requester = ""
    label = (params.get("label") or "").strip()[:LABEL_MAX]
    wanted_status = params.get("status") or ""
    status = wanted_status if wanted_status in Status.values else ""
    return Filters(
        team=team,
        now=now,
        start=start,
        end=end,
        period=period,
        project=project,
        model=model,
        requester=requester,
        label=label,
        status=status,
        custom=custom,
        choices=choices,
    )
