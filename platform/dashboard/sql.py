"""Small SQL building blocks the dashboard's queries share: percentiles and durations in PostgreSQL."""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.db import connection
from django.db.models import Aggregate, Expression, F, FloatField, Func, QuerySet


class Seconds(Func):
    """``end - start`` in seconds (NULL when either is NULL)."""

    template = "EXTRACT(EPOCH FROM (%(expressions)s))"
    arg_joiner = " - "
    output_field = FloatField()

    def __init__(self, end: str | Expression, start: str | Expression) -> None:
        super().__init__(F(end) if isinstance(end, str) else end, F(start) if isinstance(start, str) else start)


class Percentile(Aggregate):
    """``percentile_cont``: the continuous percentile (interpolated, as numpy's default); NULLs ignored."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: Any, fraction: float, **extra: Any) -> None:
        if not 0 <= fraction <= 1:
            raise ValueError("a percentile's fraction lies between 0 and 1")
        super().__init__(expression, fraction=repr(float(fraction)), **extra)


class Percentiles(Aggregate):
    """Several continuous percentiles from one sort: ``percentile_cont(ARRAY[...])``, a list back."""

    function = "percentile_cont"
    template = "%(function)s(ARRAY[%(fractions)s]) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = ArrayField(FloatField())

    def __init__(self, expression: Any, fractions: tuple[float, ...], **extra: Any) -> None:
        if not all(0 <= q <= 1 for q in fractions):
            raise ValueError("a percentile's fraction lies between 0 and 1")
        super().__init__(expression, fractions=", ".join(repr(float(q)) for q in fractions), **extra)


def rows_over(
    queryset: QuerySet[Any],
    select: str,
    tail: str = "",
    *,
    select_params: tuple[Any, ...] = (),
    tail_params: tuple[Any, ...] = (),
) -> list[tuple[Any, ...]]:
    """Run ``SELECT <select> FROM (<queryset>) AS t <tail>``.

    The inner query carries the team scope and the filters, built once by the ORM; the outer
    one adds what the ORM cannot say, such as percentiles over a per-row subquery computed once.
    """
    inner, inner_params = sql_of(queryset)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {select} FROM ({inner}) AS t {tail}", [*select_params, *inner_params, *tail_params])
        return cursor.fetchall()


def sql_of(queryset: QuerySet[Any]) -> tuple[str, tuple[Any, ...]]:
    """The SQL and parameters of a queryset, to nest in a hand-written query."""
    sql, params = queryset.query.sql_with_params()
    return sql, tuple(params)


def fetch(sql: str, params: tuple[Any, ...] | list[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()
