"""Bulk loading with PostgreSQL's COPY, for seeding demo and benchmark data fast.

A ``CopyTable`` knows every concrete column of a model: a row names the fields it sets, the
rest get the field's default (or NULL), so a column another engineer adds later with a default
does not break the seeder.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.db import connection, models
from django.db.models.fields import NOT_PROVIDED

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
NULL = "\\N"


def _text(value: Any) -> str:
    return str(value).translate(_ESCAPES)


def _timestamp(value: Any) -> str:
    if isinstance(value, (int, float)):
        value = datetime.fromtimestamp(value, tz=UTC)
    return value.isoformat()


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":")).translate(_ESCAPES)


def _array(value: Sequence[Any]) -> str:
    # Labels are plain words; quote each element all the same.
    return ("{" + ",".join('"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"' for v in value) + "}").translate(_ESCAPES)


def _bool(value: Any) -> str:
    return "t" if value else "f"


def _number(value: Any) -> str:
    return str(value)


def _formatter(field: models.Field[Any, Any]) -> Callable[[Any], str]:
    if isinstance(field, models.JSONField):
        return _json
    if isinstance(field, ArrayField):
        return _array
    if isinstance(field, models.DateTimeField):
        return _timestamp
    if isinstance(field, models.BooleanField):
        return _bool
    if isinstance(field, (models.IntegerField, models.DecimalField, models.FloatField, models.ForeignKey)):
        return _number
    return _text


class CopyTable:
    def __init__(self, model: type[models.Model], fields: Sequence[str]) -> None:
        self.model = model
        by_name = {f.attname: f for f in model._meta.concrete_fields}
        unknown = set(fields) - set(by_name)
        if unknown:
            raise ValueError(f"{model.__name__} has no fields {sorted(unknown)}")
        self.columns = [f.column for f in model._meta.concrete_fields]
        position = {name: i for i, name in enumerate(fields)}
        self.plan: list[tuple[int, Callable[[Any], str]] | str] = []
        for f in model._meta.concrete_fields:
            if f.attname in position:
                self.plan.append((position[f.attname], _formatter(f)))
            else:
                self.plan.append(self._default(f))

    @staticmethod
    def _default(field: models.Field[Any, Any]) -> str:
        if field.default is not NOT_PROVIDED:
            value = field.default() if callable(field.default) else field.default
            return NULL if value is None else _formatter(field)(value)
        if field.null:
            return NULL
        if isinstance(field, (models.CharField, models.TextField)):
            return ""
        raise ValueError(f"{field.model.__name__}.{field.name} needs a value: it has no default and is NOT NULL")

    def line(self, row: Sequence[Any]) -> str:
        out = []
        for step in self.plan:
            if isinstance(step, str):
                out.append(step)
            else:
                value = row[step[0]]
                out.append(NULL if value is None else step[1](value))
        return "\t".join(out)

    def copy(self, rows: Iterable[Sequence[Any]], chunk: int = 5000) -> int:
        table = self.model._meta.db_table
        columns = ", ".join(f'"{c}"' for c in self.columns)
        n = 0
        with connection.cursor() as cursor, cursor.copy(f'COPY "{table}" ({columns}) FROM STDIN') as copy:  # type: ignore[attr-defined]
            buffer: list[str] = []
            for row in rows:
                buffer.append(self.line(row))
                n += 1
                if len(buffer) >= chunk:
                    copy.write("\n".join(buffer) + "\n")
                    buffer.clear()
            if buffer:
                copy.write("\n".join(buffer) + "\n")
        return n


def allocate_ids(model: type[models.Model], n: int) -> list[int]:
    """Take ``n`` ids from the table's own sequence, so rows copied in never collide with others."""
    if n <= 0:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, %s)", [n])
        return [row[0] for row in cursor.fetchall()]

