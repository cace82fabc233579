"""Filters and tags every template may use (registered as builtins)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince

from config.markdown import render_markdown

register = template.Library()


@register.filter
def markdown(text: str) -> SafeString:
    return mark_safe(render_markdown(text))  # noqa: S308 - sanitised by nh3


@register.filter
def reltime(value: datetime | None) -> SafeString | str:
    """'3 minutes ago', with the exact time on hover."""
    if not value:
        return "—"
    now = timezone.now()
    exact = timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S %Z")
    if abs((now - value).total_seconds()) < 45:
        words = "just now"
    elif value <= now:
        words = f"{timesince(value, now, depth=1)} ago"
    else:
        words = f"in {timesince(now, value, depth=1)}"
    return format_html('<time datetime="{}" title="{}">{}</time>', value.isoformat(), exact, words)


@register.filter
def duration(seconds: float | int | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


@register.filter
def usd(value: Decimal | float | None) -> str:
    if value is None:
        return "—"
    value = Decimal(value)
    if value and abs(value) < Decimal("0.01"):
        return f"${value:.4f}"
    return f"${value:,.2f}"


@register.filter
def tokens(value: int | None) -> str:
    if not value:
        return "0"
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    if value >= 1000:
        return f"{value / 1000:.1f}k"
    return str(value)


@register.inclusion_tag("components/status.html")
def status(value: str, label: str = "") -> dict[str, Any]:
    """A status badge. The colour of a status means the same thing on every page."""
    return {"value": value, "label": label or value.replace("_", " ")}


@register.simple_tag(takes_context=True)
def url_replace(context: Any, **kwargs: Any) -> str:
    """The current query string with some parameters replaced (filters kept in the URL)."""
    query = context["request"].GET.copy()
    for key, value in kwargs.items():
        if value in (None, ""):
            query.pop(key, None)
        else:
            query[key] = value
    encoded = query.urlencode()
    return f"?{encoded}" if encoded else "?"
