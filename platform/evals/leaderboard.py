"""A suite's leaderboard: per model configuration, over every evaluation of the suite, and two models task by task.

Resolve rate = resolved / graded attempts (errors and empty patches count as not
resolved; attempts still pending are left out and shown apart). Cost and tokens
are the agent runs'; wall time is a run's, start to finish, grading apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Avg, Count, F, Max, Q, Sum

from evals.models import EvalResult, EvalSuite, EvalTask, GradeStatus


@dataclass
class Row:
    model_id: int | None
    label: str
    attempts: int
    resolved: int
    unresolved: int
    errors: int
    empty: int
    pending: int
    cost: Decimal
    tokens: float | None
    wall: timedelta | None
    grading: float | None

    @property
    def graded(self) -> int:
        return self.attempts - self.pending

    @property
    def resolve_rate(self) -> float | None:
        return self.resolved / self.graded if self.graded else None

    @property
    def cost_per_attempt(self) -> Decimal | None:
        return self.cost / self.attempts if self.attempts else None

    @property
    def mean_tokens(self) -> int:
        return round(self.tokens or 0)

    @property
    def wall_seconds(self) -> float | None:
        return self.wall.total_seconds() if self.wall is not None else None


def leaderboard(suite: EvalSuite) -> list[Row]:
    not_done = [GradeStatus.PENDING, GradeStatus.GRADING]
    rows = (
        EvalResult.objects.filter(evaluation__suite=suite)
        .values("model_id")
        .annotate(
            label=Max("model_label"),
            attempts=Count("id"),
            resolved=Count("id", filter=Q(status=GradeStatus.RESOLVED)),
            unresolved=Count("id", filter=Q(status=GradeStatus.UNRESOLVED)),
            errors=Count("id", filter=Q(status=GradeStatus.ERROR)),
            empty=Count("id", filter=Q(status=GradeStatus.EMPTY)),
            pending=Count("id", filter=Q(status__in=not_done)),
            cost=Sum("run__cost"),
            tokens=Avg(F("run__prompt_tokens") + F("run__completion_tokens")),
            wall=Avg(F("run__finished_at") - F("run__started_at")),
            grading=Avg("grading_seconds"),
        )
        .order_by()
    )
    board = [Row(**(row | {"cost": row["cost"] or Decimal(0)})) for row in rows]
    return sorted(board, key=lambda r: (-(r.resolve_rate or 0.0), r.cost, r.label))


@dataclass
class TaskComparison:
    task: EvalTask
    a: list[EvalResult] = field(default_factory=list)
    b: list[EvalResult] = field(default_factory=list)

    @staticmethod
    def _solved(results: list[EvalResult]) -> bool:
        return any(r.status == GradeStatus.RESOLVED for r in results)

    @property
    def a_solved(self) -> bool:
        return self._solved(self.a)

    @property
    def b_solved(self) -> bool:
        return self._solved(self.b)


def compare(suite: EvalSuite, a: int, b: int) -> tuple[list[TaskComparison], dict[str, Any]]:
    """Task by task, the attempts of model configurations ``a`` and ``b``; and how often each solved what the other did not."""
    rows = {task.pk: TaskComparison(task) for task in suite.tasks.all()}
    results = EvalResult.objects.filter(evaluation__suite=suite, model_id__in=[a, b]).select_related("run")
    for result in results.order_by("evaluation_id", "attempt", "id"):
        (rows[result.task_id].a if result.model_id == a else rows[result.task_id].b).append(result)
    table = list(rows.values())
    summary = {
        "both": sum(1 for r in table if r.a_solved and r.b_solved),
        "only_a": sum(1 for r in table if r.a_solved and not r.b_solved),
        "only_b": sum(1 for r in table if r.b_solved and not r.a_solved),
        "neither": sum(1 for r in table if not r.a_solved and not r.b_solved),
    }
    return table, summary
