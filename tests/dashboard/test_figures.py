"""Every figure on the dashboard equals the same figure computed independently from the seeded rows."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from dashboard import cost, flow, outcomes, people
from dashboard.header import header
from dashboard.workload import queue_table, run_state
from tests.dashboard.conftest import NOW, filters
from tests.dashboard.expected import Expected

pytestmark = pytest.mark.django_db


def same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return float(a) == pytest.approx(float(b), rel=1e-9, abs=1e-6)


def check_all(f: Any) -> None:
    want = Expected(f)
    assert want.intents and want.runs, "the seed must give this view something to count"

    state = run_state(f)
    cards = {c.key: c for c in header(f)}
    for key, (value, previous) in want.header().items():
        assert same(cards[key].value, value), f"{key} now"
        assert same(cards[key].previous, previous), f"{key} before"

    for key, value in want.run_states().items():
        assert same(state[key], value), key
    queue = queue_table(f)
    assert [(r["priority"], r["waiting"], r["dispatched"], r["oldest"]) for r in queue.rows] == [
        (q["priority"], q["waiting"], q["dispatched"], q["oldest"]) for q in want.queue()
    ]

    stages = {row["stage"]: row for row in flow.stages_table(f).rows}
    for key, (n, p50, p75) in want.stages().items():
        assert stages[key]["intents"] == n, key
        assert same(stages[key]["p50"], p50) and same(stages[key]["p75"], p75), key

    over_time = flow.stages_over_time(f)
    expected_buckets = want.stages_over_time()
    for row in over_time.rows:
        got = expected_buckets.pop(row["bucket"], None)
        if got is None:
            assert row["merged"] == 0 and row["total"] is None
            continue
        assert row["merged"] == got["merged"]
        for key in ("queue", "run", "pickup", "review", "merge", "total"):
            assert same(row[key], got[key]), (row["bucket"], key)
    assert not expected_buckets, "every merge falls in a bucket of the chart"

    rolling = flow.rolling_median(f)
    assert [(r["day"], r["intents"]) for r in rolling.rows] == [(d, n) for d, n, _ in want.rolling()]
    assert all(same(r["median"], m) for r, (_, _, m) in zip(rolling.rows, want.rolling(), strict=True))

    scatter = flow.scatter(f, limit=None)
    cohort = sorted(want.cohort(), key=lambda c: c["merged_at"])
    assert [r["intent"] for r in scatter.rows] == [c["id"] for c in cohort]

    counts, oldest = want.unfinished()
    unfinished = flow.unfinished(f)
    assert unfinished["count"] == sum(counts.values())
    assert {r["status"]: r["intents"] for r in unfinished["by_status"].rows} == dict(counts)
    assert [r["intent"] for r in unfinished["oldest"].rows] == oldest
    assert [r["wip"] for r in flow.wip_over_time(f).rows] == want.wip()

    got_outcomes = outcomes.change_requests(f)
    expected_outcomes = want.outcomes()
    for key in ("approved", "merged", "closed", "edited", "rounds_p50", "rounds_p75"):
        assert same(got_outcomes[key], expected_outcomes[key]), key
    assert [r["changes"] for r in outcomes.rounds_table(f).rows] == expected_outcomes["rounds"]
    assert [(r["why"], r["outcome"], r["runs"]) for r in outcomes.failure_reasons(f).rows] == want.failure_reasons()

    spend, tokens = cost.by_day_and_model(f)
    costs = cost.cost(f, flow.cohort_figures(f)["merged_cost"])
    assert cost.top_intents(f).rows == costs["top"].rows
    period_runs = want.period_runs()
    previous = [r for r in want.runs if f.prev_start <= r["created_at"] < f.start]
    assert costs["totals"] == {
        "spend": sum((r["cost"] for r in period_runs), Decimal(0)),
        "spend_prev": sum((r["cost"] for r in previous), Decimal(0)),
        "tokens": sum(r["prompt_tokens"] + r["completion_tokens"] for r in period_runs),
        "runs": len(period_runs),
    }
    expected_spend = want.spend_by_day()
    for s_row, t_row in zip(spend.rows, tokens.rows, strict=True):
        for col in spend.columns[1:-1]:
            model = col.key.removeprefix("model: ")
            want_cost, want_tokens = expected_spend.pop((s_row["day"], model), (0, 0))
            assert s_row[col.key] == want_cost and t_row[col.key] == want_tokens, (s_row["day"], model)
    assert not expected_spend
    per = {row["label"].split()[0]: row for row in cost.per_intent(f).rows}
    expected_cost = want.cost_per_intent()
    for key, label in (("worked", "Intents"), ("merged", "Changes")):
        n, total, p50, p75 = expected_cost[key]
        assert per[label]["count"] == n and per[label]["total"] == total, key
        assert same(per[label]["p50"], p50) and same(per[label]["p75"], p75), key
    top = cost.top_intents(f)
    assert [r["intent"] for r in top.rows] == expected_cost["top"]
    assert [r["cost"] for r in top.rows] == expected_cost["top_cost"]

    requesters = {r["person"]: (r["filed"], r["merged"], r["ttm_p50"]) for r in people.requester_ranking(f).rows}
    expected_requesters = want.requesters()
    assert set(requesters) == set(expected_requesters)
    for person, (filed, merged, p50) in expected_requesters.items():
        assert requesters[person][:2] == (filed, merged) and same(requesters[person][2], p50), person
    reviewers = {r["person"]: (r["reviews"], r["approvals"]) for r in people.reviewer_ranking(f).rows}
    assert reviewers == want.reviewers()


def test_the_seed_gives_every_part_of_the_dashboard_something_to_show(big_team):
    f = filters(big_team)
    want = Expected(f)
    assert want.header()["merged"][0] > 20
    assert want.header()["queued"][0] + want.header()["running"][0] > 0 or want.run_states()["awaiting_plan"] >= 0
    assert want.unfinished()[0], "some intents are still open"
    assert want.failure_reasons()
    assert sum(want.outcomes()["rounds"][1:]) > 0, "some changes took more than one round"


@pytest.mark.parametrize("period", ["7", "30", "90"])
def test_every_figure_matches_the_rows_for_each_period(big_team, period):
    check_all(filters(big_team, period=period))


def test_every_figure_matches_the_rows_for_a_custom_period_in_the_past(big_team):
    check_all(filters(big_team, period="custom", **{"from": "2025-04-01", "to": "2025-05-10"}))


def test_every_figure_matches_the_rows_of_the_smaller_team(seeded):
    check_all(filters(seeded.teams[1].team, period="90"))


@pytest.mark.parametrize("narrow", ["project", "model", "requester", "label", "status"])
def test_every_figure_matches_the_rows_with_each_filter(big_team, narrow):
    f = filters(big_team, period="90")
    values = {
        "project": str(f.choices["projects"][0][0]),
        "model": str(f.choices["models"][1][0]),
        "requester": f.choices["requesters"][0],
        "label": "bug",
        "status": "merged",
    }
    narrowed = filters(big_team, period="90", **{narrow: values[narrow]})
    assert getattr(narrowed, narrow), f"the {narrow} filter was accepted"
    check_all(narrowed)


def test_spend_this_month_counts_every_run_of_the_team_whatever_the_filters(big_team):
    from dashboard.header import budget

    everything = budget(filters(big_team))
    narrowed = budget(filters(big_team, label="docs", period="7"))
    assert everything["spent"] == narrowed["spent"] > 0
    assert everything["month"].day == 1 and everything["month"].month == NOW.month
