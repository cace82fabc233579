"""How the dashboard shows a value of each column kind; the raw value stays in ``data-value``."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from html import escape
from typing import Any

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from config.templatetags.slipway import reltime, tokens, usd
from dashboard.definitions import BY_ID
from dashboard.tables import Table, csv_value

register = template.Library()


@register.filter
def span(seconds: float | int | None) -> str:
    """A duration as a person reads it: 42s, 12m 05s, 5h 07m, 3d 4h."""
    if seconds is None:
        return "—"
    seconds = int(round(float(seconds)))
    if seconds < 0:
        return "−" + span(-seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


@register.filter
def pct(value: float | None) -> str:
    if value is None:
        return "—"
    value = float(value) * 100
    return f"{value:.1f}%" if 0 < abs(value) < 10 else f"{value:.0f}%"


@register.filter
def raw(value: Any) -> str:
    return csv_value(value)


@lru_cache(maxsize=1)
def _intent_url() -> tuple[str, str]:
    """An intent's URL around its id, reversed once rather than once per cell."""
    head, tail = reverse("intent_detail", args=[987654321]).split("987654321")
    return head, tail


@register.filter
def cell(value: Any, kind: str) -> Any:
    if value is None or value == "":
        return "—"
    if kind == "int":
        return intcomma(value)
    if kind == "usd":
        return usd(value)
    if kind in ("seconds", "age"):
        return span(value)
    if kind == "pct":
        return pct(value)
    if kind == "tokens":
        return tokens(int(value))
    if kind == "float":
        return f"{float(value):,.2f}"
    if kind == "date":
        day = value.date() if isinstance(value, datetime) else value
        return day.strftime("%a %d %b") if isinstance(day, date) else str(value)
    if kind == "datetime":
        return reltime(value)
    if kind == "status":  # the markup of components/status.html, without a template per cell
        return format_html('<span class="status status-{}">{}</span>', value, str(value).replace("_", " "))
    if kind == "intent":
        head, tail = _intent_url()
        return format_html('<a href="{}{}{}">#{}</a>', head, int(value), tail, value)
    return str(value)


_NUM = ' class="num"'


@register.simple_tag
def table_html(table: Table) -> SafeString:
    """A table's <table>, built with plain strings: a page shows a few thousand cells, and a
    template loop (or format_html) per cell cost most of the page's time."""
    head = "".join(
        f'<th scope="col" data-key="{escape(c.key)}"{_NUM if c.numeric else ""}>{escape(c.label)}</th>' for c in table.columns
    )
    plan = [(c.key, c.kind, _NUM if c.numeric else "") for c in table.columns]
    body = []
    for row in table.rows:  # display rows of an aggregate table, bounded
        cells = []
        for key, kind, num in plan:
            value = row.get(key)
            shown = cell(value, kind)
            cells.append(f'<td{num} data-value="{escape(csv_value(value))}">{shown if isinstance(shown, SafeString) else escape(str(shown))}</td>')
        body.append(f"<tr>{''.join(cells)}</tr>")
    return mark_safe(  # noqa: S308 - every piece above is escaped or already safe
        f'<table data-table="{escape(table.name)}"><thead><tr>{head}</tr></thead><tbody>{chr(10).join(body)}</tbody></table>'
    )


@register.filter
def card_value(value: Any, kind: str) -> Any:
    if value is None:
        return "—"
    return cell(value, kind)


@register.filter
def card_delta(card: Any) -> str:
    """The change against the previous period, in the card's own unit."""
    change = card.change
    if change is None:
        return "no earlier figure"
    if change == 0:
        return "no change"
    sign = "+" if change > 0 else "−"
    size = abs(change)
    if card.kind == "pct":
        text = f"{size * 100:.1f} pts"
    elif card.kind == "seconds":
        text = span(size)
    elif card.kind == "usd":
        text = usd(Decimal(str(size)))
    else:
        text = intcomma(int(size)) if float(size).is_integer() else f"{size:.1f}"
    relative = f" ({card.change_pct:+.0f}%)" if card.change_pct is not None and card.kind in ("int", "usd") else ""
    return f"{sign}{text}{relative}"


@register.simple_tag
def define(key: str) -> SafeString:
    """A small link to the definition of a figure."""
    definition = BY_ID.get(key)
    if definition is None:
        return format_html("")
    return format_html(
        '<a class="define" href="{}#{}" title="{}" aria-label="What is {}?">?</a>',
        reverse("dashboard_definitions"),
        definition.id,
        definition.text,
        definition.title.lower(),
    )
