"""The live block: its counters follow runs as they start and end, and it asks to be refreshed."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from intents.actions import do_file_intent
from intents.models import Intent
from runs.actions import do_queue_intent
from runs.dispatch import dispatch_queued_runs
from runs.models import AgentRun, ModelConfig, RunStatus, Worker
from runs.pipeline import claim_run, fail
from tests.conftest import login


class Figures(HTMLParser):
    """The cards' values and the runs-by-state table, by their ids and data-values."""

    def __init__(self) -> None:
        super().__init__()
        self.cards: dict[str, str] = {}
        self.states: dict[str, str] = {}
        self._card = ""
        self._in_states = False
        self._row: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if (a.get("id") or "").startswith("card-"):
            self._card = (a["id"] or "")[5:]
        elif self._card and a.get("class") == "value":
            self.cards[self._card] = a.get("data-value") or ""
            self._card = ""
        elif tag == "table":
            self._in_states = a.get("data-table") == "run_states"
        elif self._in_states and tag == "tr":
            self._row = []
        elif self._in_states and tag == "td":
            self._row.append(a.get("data-value") or "")
            if len(self._row) == 2:
                self.states[self._row[0]] = self._row[1]


def live(client: Any) -> Figures:
    response = client.get(reverse("dashboard_live"))
    assert response.status_code == 200
    figures = Figures()
    figures.feed(response.content.decode())
    return figures


@pytest.fixture
def queued_run(team, project, alice):
    model = ModelConfig.objects.create(team=team, name="m", base_url="http://127.0.0.1:9/v1", model="m")
    team.default_model = model
    team.save()
    Worker.objects.create(hostname="agents@dash-test", slots=4, heartbeat_at=timezone.now())
    intent = do_file_intent(project, alice, Intent(title="Count words"), queue=False)
    (run,) = do_queue_intent(intent, alice)
    return run


def test_the_counters_change_when_a_run_starts_and_ends(client, alice, queued_run):
    c = login(client, alice)
    before = live(c)
    assert (before.cards["queued"], before.cards["running"]) == ("1", "0")
    assert before.states["queued"] == "1"

    dispatch_queued_runs()
    run = AgentRun.objects.get(pk=queued_run.pk)
    assert claim_run(run.pk, run.lease, "dash-test:1") is not None
    started = live(c)
    assert (started.cards["queued"], started.cards["running"]) == ("0", "1")
    assert (started.states["queued"], started.states["running"]) == ("0", "1")

    fail(run, "the sandbox could not start")
    ended = live(c)
    assert (ended.cards["queued"], ended.cards["running"]) == ("0", "0")
    assert (ended.states["running"], ended.states["failed"]) == ("0", "1")
    assert AgentRun.objects.get(pk=run.pk).status == RunStatus.FAILED


def test_the_worker_running_the_run_shows_it(client, alice, queued_run):
    dispatch_queued_runs()
    run = AgentRun.objects.get(pk=queued_run.pk)
    claim_run(run.pk, run.lease, "dash-test:7")
    body = login(client, alice).get(reverse("dashboard_live")).content.decode()
    row = body.split(">agents@dash-test<")[1].split("</tr>")[0]
    assert 'data-value="1"' in row  # our runs now


def test_a_silent_worker_is_flagged_and_its_slots_are_not_free(client, alice, queued_run):
    Worker.objects.filter(hostname="agents@dash-test").update(heartbeat_at=timezone.now() - timezone.timedelta(minutes=3))
    body = login(client, alice).get(reverse("dashboard_live")).content.decode()
    row = body.split(">agents@dash-test<")[1].split("</tr>")[0]
    assert "status-silent" in row


def test_the_live_block_refreshes_on_a_team_change_and_on_a_timer(client, alice, team, queued_run):
    body = login(client, alice).get(reverse("dashboard")).content.decode()
    block = body.split('id="live"')[1].split(">")[0]
    assert 'hx-trigger="every 15s, team-changed from:body"' in block
    assert f'data-team="{team.pk}"' in block
    assert f'hx-get="{reverse("dashboard_live")}?' in block
    # The fragment replaces itself: it carries the same id and the same triggers.
    fragment = client.get(reverse("dashboard_live"), {"period": "7"}).content.decode()
    assert fragment.lstrip().startswith('<div id="live"') and "period=7" in fragment.split(">")[0]


def test_the_queue_shows_waiting_runs_by_priority_and_the_oldest_age(client, alice, queued_run):
    body = login(client, alice).get(reverse("dashboard_live")).content.decode()
    queue = body.split('data-table="queue"')[1].split("</table>")[0]
    assert "Normal" in queue and 'data-value="1"' in queue
