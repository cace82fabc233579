"""/metrics: Prometheus text for operators, behind a bearer token or a staff session."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from runs.models import AgentRun, ModelConfig, RunEvent, Worker
from tests.conftest import login

TOKEN = "metrics-token-for-tests-0123456789"


@pytest.fixture
def activity(team, project, intent, settings):
    settings.SLIPWAY_METRICS_TOKEN = TOKEN
    model = ModelConfig.objects.create(team=team, name="m", base_url="http://127.0.0.1:9/v1", model="m")
    now = timezone.now()
    for status in ("queued", "queued", "running", "done"):
        run = AgentRun.objects.create(
            intent=intent, team=team, project=project, model=model, model_name="qwen", status=status,
            prompt_tokens=1000, completion_tokens=100, cost="0.25", steps=10,
            started_at=None if status == "queued" else now - timezone.timedelta(seconds=120),
            finished_at=now if status == "done" else None,
        )
        # Model calls of 1, 2, 3 and 10 seconds (the last one retried) in every run; only the
        # ended run's count.
        for seq, seconds in enumerate((1.0, 2.0, 3.0, 10.0), start=1):
            RunEvent.objects.create(run=run, seq=seq, kind="usage", payload={"prompt_tokens": 10, "seconds": seconds})
    Worker.objects.create(hostname="agents@m1", slots=4, active=1, heartbeat_at=now)
    Worker.objects.create(hostname="agents@m2", slots=4, active=0, heartbeat_at=now - timezone.timedelta(minutes=5))
    return team


def scrape(client, **headers):
    return client.get(reverse("metrics"), **headers)


def samples(response):
    out = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_it_refuses_a_scrape_without_the_token(client, activity):
    response = scrape(client)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert scrape(client, HTTP_AUTHORIZATION="Bearer wrong").status_code == 401


def test_a_member_who_is_not_staff_cannot_read_it(client, alice, activity):
    assert scrape(login(client, alice)).status_code == 401


def test_it_parses_as_prometheus_text_and_counts_what_is_there(client, activity):
    response = scrape(client, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    got = samples(response)
    slug = activity.slug
    assert got[("slipway_runs", (("state", "queued"), ("team", slug)))] == 2
    assert got[("slipway_runs", (("state", "running"), ("team", slug)))] == 1
    assert got[("slipway_queue_depth", (("priority", "1"), ("team", slug)))] == 2
    assert got[("slipway_queue_oldest_seconds", (("team", slug),))] >= 0
    assert got[("slipway_worker_up", (("worker", "agents@m1"),))] == 1
    assert got[("slipway_worker_up", (("worker", "agents@m2"),))] == 0
    assert got[("slipway_sandbox_slots", (("state", "total"),))] == 4  # the silent worker's slots are not counted
    assert got[("slipway_sandbox_slots", (("state", "free"),))] == 3
    assert got[("slipway_model_tokens_total", (("kind", "prompt"), ("model", "qwen"), ("team", slug)))] == 4000
    assert got[("slipway_model_cost_usd_total", (("model", "qwen"), ("team", slug)))] == 1.0
    assert got[("slipway_run_duration_seconds", (("model", "qwen"), ("quantile", "0.5")))] == pytest.approx(120, abs=2)
    assert got[("slipway_model_step_seconds", (("model", "qwen"), ("quantile", "0.5")))] == pytest.approx(12, abs=0.5)
    assert got[("slipway_model_call_seconds", (("model", "qwen"), ("quantile", "0.5")))] == pytest.approx(2.5)
    assert got[("slipway_model_call_seconds", (("model", "qwen"), ("quantile", "0.95")))] == pytest.approx(8.95)


def test_a_staff_session_may_read_it_without_a_token(client, alice, activity, settings):
    settings.SLIPWAY_METRICS_TOKEN = ""
    alice.is_staff = True
    alice.save()
    assert scrape(login(client, alice)).status_code == 200
