"""A run's reward grows with its life: the tests' verdict at its end, then the people's."""

from __future__ import annotations

from evals import rewards
from evals.models import RunReward
from reviews.actions import do_approve, do_close, do_request_changes
from reviews.merging import do_merge
from tests.reviews.changes import change_request_of, fix_word_count, propose, textstats


def stored(run) -> RunReward:  # type: ignore[no-untyped-def]
    return RunReward.objects.get(run=run)


def test_a_finished_run_stores_its_execution_reward_with_the_definitions_version(
    intent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        run = fix_word_count(intent)  # ends the round, as the pipeline does: the hook runs on commit

    reward = stored(run)
    assert reward.version == rewards.REWARD_VERSION == "slipway-reward/1"
    assert reward.resolved is True and reward.verdict == "" and reward.score == 1.0
    assert reward.execution["newly_passing"] == ["tests/test_textstats.py::test_repeated_spaces"]


def test_approval_and_merge_raise_the_reward(alice, intent):
    run = fix_word_count(intent)
    cr = change_request_of(intent)
    do_approve(cr, alice)
    assert rewards.record_verdict(run.pk).verdict == "approved"
    assert stored(run).score == 1.0

    do_merge(change_request_of(intent), alice, "merge")
    reward = rewards.record_verdict(run.pk)
    assert reward.verdict == "merged" and reward.score == 1.0


def test_an_approved_change_whose_tests_failed_scores_below_a_passing_one(alice, intent):
    run = propose(intent, {"textstats.py": textstats(fixed=False) + "\n# tried\n"}, resolved=False)
    do_approve(change_request_of(intent), alice)
    reward = rewards.record_verdict(run.pk)
    assert (reward.verdict, reward.score) == ("approved", 0.75)


def test_changes_requested_belong_to_the_round_they_were_asked_of(alice, intent, idle_model):
    first = fix_word_count(intent)
    do_request_changes(change_request_of(intent), alice, "Add a docstring.")
    assert rewards.record_verdict(first.pk).verdict == "changes_requested"
    assert stored(first).score == 0.25

    second = propose(
        intent,
        {"textstats.py": textstats() + '\n"""Word counts."""\n'},
        round=2,
        run=intent.runs.get(round=2),
    )
    assert rewards.record(second.pk).verdict == ""
    do_approve(change_request_of(intent), alice)
    assert rewards.record_verdict(second.pk).verdict == "approved"
    assert rewards.record_verdict(first.pk).verdict == "changes_requested"


def test_a_closed_change_scores_nothing(alice, intent):
    run = fix_word_count(intent)
    do_close(change_request_of(intent), alice, "Not needed.")
    reward = rewards.record_verdict(run.pk)
    assert (reward.verdict, reward.score) == ("closed", 0.0)


def test_an_attempt_that_was_not_proposed_gets_no_verdict(alice, intent):
    loser = propose(
        intent, {"textstats.py": textstats(fixed=False) + "\n# no\n"}, resolved=False, finish=False
    )
    winner = fix_word_count(intent, attempt=2)
    do_approve(change_request_of(intent), alice)
    assert rewards.record_verdict(winner.pk).verdict == "approved"
    assert rewards.record_verdict(loser.pk).verdict == ""
    assert stored(loser).score == 0.0


def test_the_score_table():
    assert (
        rewards.score(True, "") == 1.0 and rewards.score(False, "") == 0.0 and rewards.score(None, "") is None
    )
    assert rewards.score(False, "merged") == 1.0 and rewards.score(True, "closed") == 0.0
    assert rewards.score(True, "changes_requested") == 0.25 and rewards.score(None, "approved") == 0.75
