"""A person watches a real run in Chromium: steps arrive live, a reload in the middle loses and
repeats nothing, and the page built live is the page a reload builds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from intents.actions import do_file_intent
from intents.models import Intent
from runs import live
from runs.models import AgentRun, ModelConfig, RunStatus
from tests.browser.conftest import signed_in
from tests.support.model_server import ModelServer
from tests.support.platform import celery_worker
from tests.support.solver import demo_fixer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SLOW = 2.0  # seconds the scripted model "thinks" before each reply: time to look, and to reload
PANELS = ("#timeline", "#run-plan", "#run-tests", "#run-usage")


@pytest.fixture
def slow_model(team) -> Iterator[ModelConfig]:  # type: ignore[no-untyped-def]
    # Request i of the run is its turn i, so every turn waits SLOW seconds first.
    with ModelServer(*[demo_fixer(slow_turn=turn, slow_seconds=SLOW) for turn in range(8)], when_exhausted="submit") as server:
        config = ModelConfig.objects.create(team=team, name="scripted", base_url=server.openai_base_url, model="scripted")
        team.default_model = config
        team.save()
        yield config


@pytest.fixture
def worker(transactional_db, _data_dir: Path) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    from django.conf import settings

    redis.Redis.from_url(settings.REDIS_URL).flushdb()  # no task left over from another test
    with celery_worker(_data_dir) as proc:
        yield proc


def timeline_ids(page: Any) -> list[str]:
    return page.eval_on_selector_all("#timeline > li", "items => items.map(item => item.id)")


def test_a_person_sees_every_step_live_and_a_reload_loses_and_repeats_nothing(browser, web, alice, project, slow_model, worker):
    intent = do_file_intent(project, alice, Intent(title="Fix word_count", description="It miscounts whitespace."), queue=True)
    run = AgentRun.objects.get(intent=intent)
    page = signed_in(browser, web, alice)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)

    page.goto(f"/runs/{run.pk}/")
    assert page.locator("#timeline li.ev-tool_call").count() == 0  # the model is still thinking

    # Steps arrive without a reload: the plan, then the first tool call with its output.
    page.wait_for_selector("#run-plan li", timeout=60_000)
    page.wait_for_selector("#timeline li.ev-tool_call .call-state .status-done", timeout=60_000)
    assert page.locator("#run-head .status-running").count() == 1
    assert page.locator("#run-plan li.active").count() == 1

    # Reload in the middle of the run; the next steps still arrive, each once.
    page.reload()
    assert AgentRun.objects.get(pk=run.pk).status == RunStatus.RUNNING
    before = len(timeline_ids(page))
    page.wait_for_function(f"document.querySelectorAll('#timeline > li').length > {before}", timeout=60_000)
    page.wait_for_selector("#run-head .status-done", timeout=120_000)
    page.wait_for_selector("#run-diff table.diff", timeout=10_000)

    run.refresh_from_db()
    assert run.status == RunStatus.DONE, run.reason
    expected = [block.dom_id for block in live.page_fold(run.pk).blocks]
    seen = timeline_ids(page)
    assert len(seen) == len(set(seen)), "an event shows twice"
    assert seen == expected, "the page misses an event or shows them out of order"
    assert page.locator("#run-plan li.done").count() == page.locator("#run-plan li").count() == 4

    # What the live feed built is exactly what a fresh page shows.
    built_live = {panel: page.inner_text(panel) for panel in PANELS}
    page.reload()
    assert page.locator("[ws-connect]").count() == 0  # a finished run needs no socket
    assert {panel: page.inner_text(panel) for panel in PANELS} == built_live
    assert problems == []
