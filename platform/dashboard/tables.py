"""Tables: what every chart and list on the dashboard is made of, and what its CSV export writes.

A table holds raw values (seconds, dollars as Decimal, datetimes); the page formats them by the
column's kind and keeps the raw value in ``data-value``, the CSV writes the raw value. So the
export and the page cannot disagree.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

# Kinds of column: how a value is shown (see templatetags/dashboard.py) and written.
KINDS = frozenset(
    {"text", "int", "usd", "seconds", "pct", "date", "datetime", "status", "tokens", "intent", "float", "age"}
)


@dataclass(frozen=True)
class Col:
    key: str
    label: str
    kind: str = "text"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown column kind {self.kind!r}")

    @property
    def numeric(self) -> bool:
        return self.kind in {"int", "usd", "seconds", "pct", "tokens", "float", "age"}


@dataclass
class Table:
    name: str
    title: str
    columns: list[Col]
    rows: list[dict[str, Any]] = field(default_factory=list)
    definition: str = ""
    note: str = ""
    empty: str = "Nothing in this period."

    def cells(self) -> list[list[tuple[Col, Any]]]:
        return [[(col, row.get(col.key)) for col in self.columns] for row in self.rows]

    def column(self, key: str) -> list[Any]:
        return [row.get(key) for row in self.rows]


@dataclass
class Chart:
    """A chart drawn by static/js/dashboard.js from a table's rows."""

    id: str
    type: str  # bar | line | scatter
    table: Table
    x: str
    series: list[str]
    unit: str = "int"  # how the y axis reads: int | seconds | usd | tokens | hours
    stacked: bool = False
    line: str = ""  # a column drawn as a line over the bars or points (e.g. a rolling median)
    line_table: Table | None = None
    line_x: str = ""
    colors: dict[str, str] = field(default_factory=dict)
    title: str = ""

    def config(self) -> dict[str, Any]:
        labels = {col.key: col.label for col in self.table.columns}
        kinds = {col.key: col.kind for col in self.table.columns}
        config: dict[str, Any] = {
            "id": self.id,
            "type": self.type,
            "xkind": kinds.get(self.x, "text"),
            "unit": self.unit,
            "stacked": self.stacked,
            "x": [_json_value(v) for v in self.table.column(self.x)],
            "series": [
                {"key": key, "label": labels.get(key, key), "color": self.colors.get(key, ""), "data": [_json_value(v) for v in self.table.column(key)]}
                for key in self.series
            ],
        }
        if self.line and self.line_table is not None:
            line_labels = {col.key: col.label for col in self.line_table.columns}
            config["line"] = {
                "label": line_labels.get(self.line, self.line),
                "x": [_json_value(v) for v in self.line_table.column(self.line_x or self.x)],
                "data": [_json_value(v) for v in self.line_table.column(self.line)],
            }
        return config


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, date):
        return value.isoformat()
    return value


def csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(round(value, 6))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def to_csv(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([col.key for col in table.columns])
    for row in table.rows:
        writer.writerow([csv_value(row.get(col.key)) for col in table.columns])
    return out.getvalue()
