import pytest

from intents.actions import do_set_status
from intents.models import TRANSITIONS, IllegalTransition, Intent, Status


def test_every_status_has_a_rule():
    assert set(TRANSITIONS) == set(Status)


def test_a_merged_intent_is_final():
    assert TRANSITIONS[Status.MERGED] == frozenset()


@pytest.mark.parametrize(
    ("start", "target"),
    [
        (Status.DRAFT, Status.MERGED),
        (Status.DRAFT, Status.IN_REVIEW),
        (Status.QUEUED, Status.APPROVED),
        (Status.RUNNING, Status.MERGED),
        (Status.FAILED, Status.MERGED),
        (Status.MERGED, Status.QUEUED),
        (Status.CANCELLED, Status.MERGED),
        (Status.CHANGES_REQUESTED, Status.MERGED),
    ],
)
def test_it_refuses_illegal_moves(start, target):
    intent = Intent(status=start)
    with pytest.raises(IllegalTransition, match=f"from {start} to {target}"):
        intent.transition(target)
    assert intent.status == start


@pytest.mark.parametrize(
    "path",
    [
        [Status.QUEUED, Status.RUNNING, Status.IN_REVIEW, Status.APPROVED, Status.MERGED],
        [Status.QUEUED, Status.RUNNING, Status.IN_REVIEW, Status.CHANGES_REQUESTED, Status.QUEUED],
        [Status.QUEUED, Status.RUNNING, Status.FAILED, Status.QUEUED],
        [Status.QUEUED, Status.CANCELLED, Status.QUEUED],
    ],
)
def test_it_allows_the_usual_paths(path):
    intent = Intent(status=Status.DRAFT)
    for target in path:
        intent.transition(target)
    assert intent.status == path[-1]


def test_merging_stamps_the_time():
    intent = Intent(status=Status.APPROVED)
    intent.transition(Status.MERGED)
    assert intent.merged_at is not None


def test_do_set_status_saves_and_refuses_illegal_moves(intent):
    do_set_status(intent, Status.QUEUED)
    intent.refresh_from_db()
    assert intent.status == Status.QUEUED
    with pytest.raises(IllegalTransition):
        do_set_status(intent, Status.MERGED)
    intent.refresh_from_db()
    assert intent.status == Status.QUEUED


def test_do_set_status_records_why_an_intent_failed(intent):
    do_set_status(intent, Status.QUEUED)
    do_set_status(intent, Status.FAILED, reason="the model endpoint is down")
    intent.refresh_from_db()
    assert intent.failure_reason == "the model endpoint is down"
