"""Every table on the page downloads as CSV with the same rows; a page costs the same queries at any size."""

from __future__ import annotations

import csv
import io
from html.parser import HTMLParser
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dashboard.report import EXPORTS

pytestmark = pytest.mark.django_db

# The seed's "now" is in the past: a custom period ending that day shows its data.
PAST = {"period": "custom", "from": "2025-04-20", "to": "2025-06-18"}


class Tables(HTMLParser):
    """Each <table data-table=...>: its column keys and its cells' data-value."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, dict[str, list[Any]]] = {}
        self.current: dict[str, list[Any]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table" and a.get("data-table"):
            self.current = self.tables.setdefault(a["data-table"] or "", {"keys": [], "rows": []})
        elif self.current is not None and tag == "th":
            self.current["keys"].append(a.get("data-key"))
        elif self.current is not None and tag == "tr" and self.current["keys"]:
            self.current["rows"].append([])
        elif self.current is not None and tag == "td":
            self.current["rows"][-1].append(a.get("data-value") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.current = None


def page_tables(client: Any, **params: str) -> dict[str, dict[str, list[Any]]]:
    parser = Tables()
    parser.feed(client.get(reverse("dashboard"), params).content.decode())
    return {name: {"keys": t["keys"], "rows": [r for r in t["rows"] if r]} for name, t in parser.tables.items()}


def same_cell(a: str, b: str, key: str) -> bool:
    if a == b:
        return True
    if key in ("age",):  # seconds since something, read a few milliseconds apart
        return abs(float(a) - float(b)) < 5
    return False


@pytest.fixture
def lead(client: Any, seeded: Any) -> Any:
    client.force_login(User.objects.get(username=seeded.teams[0].lead))
    return client


def test_every_table_on_the_page_matches_its_csv(lead):
    tables = page_tables(lead, **PAST)
    expected = {"workers", "run_states", "flow_stages", "flow_over_time", "flow_rolling_median", "wip",
                "unfinished_by_status", "unfinished_oldest", "outcomes", "review_rounds", "failure_reasons",
                "spend_by_day", "tokens_by_day", "top_intents", "cost_per_intent", "my_intents", "my_reviews",
                "ranking_requesters", "ranking_reviewers"}
    assert expected <= set(tables), expected - set(tables)
    assert set(tables) <= set(EXPORTS)
    for name, table in tables.items():
        response = lead.get(reverse("dashboard_export", args=[name]), PAST)
        assert response["Content-Type"].startswith("text/csv")
        header, *rows = list(csv.reader(io.StringIO(response.content.decode())))
        assert header == table["keys"], name
        assert len(rows) == len(table["rows"]), name
        for got, shown in zip(rows, table["rows"], strict=True):
            assert all(same_cell(a, b, k) for a, b, k in zip(got, shown, header, strict=True)), (name, got, shown)


def test_the_scatter_downloads_every_point_the_page_draws(lead):
    import json

    page = lead.get(reverse("dashboard"), PAST).content.decode()
    charts = json.loads(page.split('id="dashboard-charts" type="application/json">')[1].split("</script>")[0])
    drawn = next(c for c in charts if c["id"] == "chart-scatter")
    rows = list(csv.DictReader(io.StringIO(lead.get(reverse("dashboard_export", args=["flow_intents"]), PAST).content.decode())))
    assert len(rows) == len(drawn["x"]) > 0  # fewer than 1,500 merged: the page draws them all
    assert [float(r["total"]) for r in rows] == pytest.approx(drawn["series"][0]["data"])


def test_a_csv_is_named_after_the_team_and_the_table(lead, seeded):
    response = lead.get(reverse("dashboard_export", args=["spend_by_day"]), PAST)
    assert f'filename="{seeded.teams[0].team.slug}-spend_by_day-' in response["Content-Disposition"]


def test_a_page_costs_the_same_queries_for_a_small_team_and_a_big_one(client, seeded):
    counts = []
    for setup in seeded.teams:
        client.force_login(User.objects.get(username=setup.lead))
        client.get(reverse("dashboard"), PAST)  # the label list's cache is filled once per team
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("dashboard"), PAST).status_code == 200
        counts.append(len(queries))
    assert seeded.teams[0].intents == 2 * seeded.teams[1].intents
    assert counts[0] == counts[1], counts
    assert counts[0] <= 35


def test_the_periods_figures_are_computed_once_a_minute_and_the_csv_reads_the_same_copy(lead, seeded, settings):
    from django.core.cache import cache

    from dashboard.filters import parse_filters
    from dashboard.report import cache_key
    from runs.models import AgentRun

    settings.SLIPWAY_DASHBOARD_CACHE_SECONDS = 60
    key = cache_key(parse_filters(seeded.teams[0].team, PAST, with_choices=False))
    cache.delete_many([f"{key}:period", f"{key}:sections"])
    try:
        with CaptureQueriesContext(connection) as cold:
            first = page_tables(lead, **PAST)
        with CaptureQueriesContext(connection) as warm:
            second = page_tables(lead, **PAST)
        assert len(warm) < len(cold) - 8
        assert first == second
        # A run that starts changes the live counts at once; a run that fails, the period's figures a minute later.
        started, failed = AgentRun.objects.filter(team=seeded.teams[0].team, status="done").order_by("-finished_at")[:2]
        AgentRun.objects.filter(pk=started.pk).update(status="running")
        AgentRun.objects.filter(pk=failed.pk).update(status="failed", reason="a fresh failure")
        third = page_tables(lead, **PAST)
        assert third["failure_reasons"] == first["failure_reasons"]
        running = [row for row in third["run_states"]["rows"] if row[0] == "running"][0]
        assert int(running[1]) == int([row for row in first["run_states"]["rows"] if row[0] == "running"][0][1]) + 1
        csv_rows = list(csv.reader(io.StringIO(lead.get(reverse("dashboard_export", args=["failure_reasons"]), PAST).content.decode())))
        assert csv_rows[1:] == first["failure_reasons"]["rows"]
    finally:
        cache.delete_many([f"{key}:period", f"{key}:sections"])
