"""Queueing and dispatch, without a worker: what is sent to the `agents` queue, and when."""

from __future__ import annotations

import pytest
from django.utils import timezone

from intents.actions import do_file_intent
from intents.models import Intent, Priority, Status
from runs.actions import QueueError, do_cancel_intent, do_queue_intent
from runs.dispatch import dispatch_queued_runs
from runs.models import AgentRun, ModelConfig, RunStatus, Worker


@pytest.fixture
def configured(team):
    config = ModelConfig.objects.create(team=team, name="m", base_url="http://127.0.0.1:9/v1", model="m")
    team.default_model = config
    team.save()
    Worker.objects.create(hostname="agents@test", slots=10, heartbeat_at=timezone.now())
    return config


def draft(project, alice, title="x", **fields):
    return do_file_intent(project, alice, Intent(title=title, **fields), queue=False)


def dispatched() -> list[AgentRun]:
    return list(AgentRun.objects.filter(dispatched_at__isnull=False).order_by("dispatched_at", "id"))


def test_queueing_makes_one_run_per_attempt(project, alice, configured, django_capture_on_commit_callbacks):
    intent = draft(project, alice, attempts=3)
    with django_capture_on_commit_callbacks(execute=False):
        runs = do_queue_intent(intent, alice)
    intent.refresh_from_db()
    assert intent.status == Status.QUEUED
    assert [r.attempt for r in runs] == [1, 2, 3]
    assert {r.seed for r in runs} == {1, 2, 3}
    assert all(r.model == configured and r.status == RunStatus.QUEUED for r in runs)


def test_nothing_is_dispatched_before_commit(project, alice, configured, django_capture_on_commit_callbacks):
    intent = draft(project, alice)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        do_queue_intent(intent, alice)
    assert dispatched() == []
    assert callbacks, "dispatch waits for the commit"


def test_project_concurrency_limit_holds(project, alice, configured):
    project.max_concurrent_runs = 1
    project.save()
    for n in range(3):
        do_queue_intent(draft(project, alice, title=f"i{n}"), alice)
    dispatch_queued_runs()
    assert len(dispatched()) == 1
    first = dispatched()[0]
    AgentRun.objects.filter(pk=first.pk).update(status=RunStatus.DONE)
    dispatch_queued_runs()
    assert len(AgentRun.objects.filter(dispatched_at__isnull=False).exclude(status=RunStatus.DONE)) == 1


def test_team_concurrency_limit_holds_across_projects(project, alice, team, configured):
    from projects.models import Project

    other = Project.objects.create(team=team, name="other", repo_url=project.repo_url)
    team.max_concurrent_runs = 2
    team.save()
    for n in range(2):
        do_queue_intent(draft(project, alice, title=f"a{n}"), alice)
        do_queue_intent(draft(other, alice, title=f"b{n}"), alice)
    dispatch_queued_runs()
    assert len(dispatched()) == 2


def test_priority_decides_who_goes_first(project, alice, configured):
    project.max_concurrent_runs = 1
    project.save()
    low = draft(project, alice, title="low", priority=Priority.LOW)
    urgent = draft(project, alice, title="urgent", priority=Priority.URGENT)
    do_queue_intent(low, alice)
    do_queue_intent(urgent, alice)
    AgentRun.objects.update(dispatched_at=None, lease="")
    dispatch_queued_runs()
    assert [r.intent for r in dispatched()] == [urgent]


def test_no_more_than_the_free_worker_slots_are_dispatched(project, alice, configured):
    Worker.objects.update(slots=2)
    project.max_concurrent_runs = 10
    project.save()
    for n in range(5):
        do_queue_intent(draft(project, alice, title=f"i{n}"), alice)
    dispatch_queued_runs()
    assert len(dispatched()) == 2


def test_cancelling_a_queued_intent_ends_its_runs_at_once(project, alice, configured):
    intent = draft(project, alice, attempts=2)
    do_queue_intent(intent, alice)
    do_cancel_intent(intent, alice)
    intent.refresh_from_db()
    assert intent.status == Status.CANCELLED
    assert set(AgentRun.objects.values_list("status", flat=True)) == {RunStatus.CANCELLED}


def test_a_claim_is_taken_once(project, alice, configured):
    from runs.pipeline import claim_run

    intent = draft(project, alice)
    do_queue_intent(intent, alice)
    dispatch_queued_runs()
    run = AgentRun.objects.get()
    assert claim_run(run.pk, "wrong-lease", "w1") is None
    assert claim_run(run.pk, run.lease, "w1") is not None
    assert claim_run(run.pk, run.lease, "w2") is None


def test_queueing_a_merged_intent_is_refused(project, alice, configured):
    intent = draft(project, alice)
    Intent.objects.filter(pk=intent.pk).update(status=Status.MERGED)
    intent.refresh_from_db()
    from intents.models import IllegalTransition

    with pytest.raises(IllegalTransition):
        do_queue_intent(intent, alice)


def test_queueing_without_a_model_is_refused(project, alice):
    with pytest.raises(QueueError, match="No model is configured"):
        do_queue_intent(draft(project, alice), alice)
