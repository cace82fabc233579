"""The run page: every step of the run, server-rendered from its events, ready for the live feed."""

from __future__ import annotations

import re

import pytest

from runs.models import RunStatus
from tests.conftest import login
from tests.support.run_events import DEMO, make_run, record

pytestmark = pytest.mark.django_db(transaction=True)


def page(client, run) -> str:  # type: ignore[no-untyped-def]
    response = client.get(f"/runs/{run.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def until(kind: str, n: int = 1) -> list:  # type: ignore[type-arg]
    """The demo run's events up to and including the n-th event of ``kind``."""
    seen = 0
    for index, (k, _) in enumerate(DEMO):
        if k == kind:
            seen += 1
            if seen == n:
                return DEMO[: index + 1]
    raise AssertionError(f"no {kind} #{n} in the demo")


def plan_states(html: str) -> list[str]:
    plan = html.split('id="run-plan"', 1)[1].split("</ol>", 1)[0]
    return re.findall(r'<li class="(done|active|todo)"', plan)


def test_it_shows_every_step_of_the_run(client, alice, intent):
    run = make_run(intent)
    record(run)
    html = page(login(client, alice), run)
    for text in ("Read textstats.py.", "view_file", "edit_file", "python", "4 passed", "word_count now splits"):
        assert text in html
    assert html.count('class="ev ev-tool_call') == 4
    # The edit is shown as a diff, the viewed file highlighted beside its line numbers.
    assert '<span class="gd">' in html and '<span class="gi">' in html
    assert '<span class="ln">3</span>' in html
    # Tests before and after.
    tests = html.split('id="run-tests"', 1)[1].split("</dl>", 1)[0]
    assert "3 passed, 1 failed" in tests and "4 passed" in tests
    # Tokens, cost, steps and the time spent waiting for the model (five calls of 12.5 s).
    usage = html.split('id="run-usage"', 1)[1].split("</dl>", 1)[0]
    assert "4.7k" in usage and "1m 02s" in usage


def test_it_tells_the_socket_where_the_page_ends(client, alice, intent):
    run = make_run(intent)
    record(run, DEMO[:10])
    last = run.events.order_by("-seq").first().seq
    html = page(login(client, alice), run)
    assert f'ws-connect="/ws/runs/{run.pk}/?after={last}&amp;status=running"' in html
    assert f'id="run-cursor" hidden data-seq="{last}" data-status="running"' in html


def test_a_teammate_sees_the_run(client, bob, intent):
    run = make_run(intent)
    record(run, DEMO[:5])
    assert "fetching main" in page(login(client, bob), run)


def test_an_outsider_gets_a_404(client, mallory, intent):
    run = make_run(intent)
    record(run, DEMO[:5])
    response = login(client, mallory).get(f"/runs/{run.pk}/")
    assert response.status_code == 404
    assert "fetching main" not in response.content.decode()


def test_the_plan_ticks_as_the_agent_goes(client, alice, intent):
    run = make_run(intent)
    login(client, alice)
    record(run, until("plan"))
    assert plan_states(page(client, run)) == ["todo", "todo", "todo", "todo"]
    record(run, DEMO[len(until("plan")) : len(until("tool_call", 1))])  # view_file
    assert plan_states(page(client, run)) == ["active", "todo", "todo", "todo"]
    record(run, DEMO[len(until("tool_call", 1)) : len(until("tool_call", 3))])  # edit, then the tests
    assert plan_states(page(client, run)) == ["done", "done", "active", "todo"]
    record(run, DEMO[len(until("tool_call", 3)) :])  # submitted
    assert plan_states(page(client, run)) == ["done", "done", "done", "done"]


def test_a_running_command_shows_its_output_so_far(client, alice, intent):
    run = make_run(intent)
    record(run, DEMO[: len(until("tool_call", 3)) + 1])  # the bash call and its first output
    html = page(login(client, alice), run)
    call = run.events.get(kind="tool_call", payload__id="call_3").seq
    assert f'<pre class="log" id="out-{call}" data-follow>....\n</pre>' in html
    assert f'id="state-{call}" class="call-state"><span class="status status-running">running</span>' in html


def test_a_message_being_written_shows_what_is_written_so_far(client, alice, intent):
    run = make_run(intent)
    record(run, DEMO[:6])  # the first delta of the plan
    html = page(login(client, alice), run)
    assert '<div class="message-live" id="streaming-text">1. Read textstats.py.\n</div>' in html


def test_a_finished_run_shows_its_diff_and_opens_no_socket(client, alice, intent):
    run = make_run(
        intent,
        status=RunStatus.DONE,
        diff='--- a/textstats.py\n+++ b/textstats.py\n@@ -1,1 +1,1 @@\n-    return len(text.split(" "))\n+    return len(text.split())\n',
    )
    record(run)
    html = page(login(client, alice), run)
    assert "ws-connect" not in html
    assert 'id="run-diff"' in html and "textstats.py" in html.split('id="run-diff"', 1)[1]
    assert "Cancel run" not in html


def test_a_member_can_cancel_a_running_run_and_a_viewer_cannot(client, alice, vera, intent):
    run = make_run(intent)
    assert "Cancel run" in page(login(client, alice), run)
    assert "Cancel run" not in page(login(client, vera), run)


def test_a_run_awaiting_approval_shows_its_plan_in_the_approval_form(client, alice, intent):
    run = make_run(intent, status=RunStatus.AWAITING_PLAN, plan="1. Do it.")
    html = page(login(client, alice), run)
    assert f'action="/runs/{run.pk}/approve-plan/"' in html
    assert "1. Do it.</textarea>" in html


def test_the_parts_that_depend_on_the_viewer_are_served_alone(client, alice, intent):
    run = make_run(intent)
    response = login(client, alice).get(f"/runs/{run.pk}/?part=actions", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.strip().startswith('<div id="run-actions"') and "csrfmiddlewaretoken" in html
    assert "<html" not in html


def test_tool_output_is_escaped(client, alice, intent):
    run = make_run(intent)
    record(run, [
        ("tool_call", {"id": "c", "name": "bash", "arguments": {"command": "echo '<script>alert(1)</script>'"}}),
        ("command_output", {"id": "c", "chunk": "<script>alert(2)</script>\n"}),
    ])
    html = page(login(client, alice), run)
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html
