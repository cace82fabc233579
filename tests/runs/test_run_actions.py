"""Cancel, approve a plan, retry: who may, and what each does to the rows."""

import pytest
from django.urls import reverse

from intents.models import Status
from runs.actions import do_queue_intent
from runs.models import AgentRun, ModelConfig, RunStatus
from tests.conftest import login


@pytest.fixture
def queued_run(team, intent, alice):
    config = ModelConfig.objects.create(team=team, name="m", base_url="http://127.0.0.1:9/v1", model="m")
    team.default_model = config
    team.save()
    return do_queue_intent(intent, alice)[0]


def test_a_member_cancels_a_queued_run_and_the_intent_follows(client, bob, queued_run, intent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        login(client, bob).post(reverse("run_cancel", args=[queued_run.pk]))
    queued_run.refresh_from_db()
    assert queued_run.status == RunStatus.CANCELLED
    intent.refresh_from_db()
    assert intent.status == Status.CANCELLED


def test_a_viewer_cannot_cancel(client, vera, queued_run):
    assert login(client, vera).post(reverse("run_cancel", args=[queued_run.pk])).status_code == 403
    queued_run.refresh_from_db()
    assert queued_run.status == RunStatus.QUEUED


def test_an_outsider_gets_404_for_every_run_action(client, mallory, queued_run):
    c = login(client, mallory)
    for name in ("run_cancel", "run_approve_plan", "run_retry"):
        assert c.post(reverse(name, args=[queued_run.pk]), {"plan": "x"}).status_code == 404


def test_approving_a_plan_queues_the_run_again_with_the_edited_plan(client, bob, queued_run):
    AgentRun.objects.filter(pk=queued_run.pk).update(status=RunStatus.AWAITING_PLAN, plan="1. do it", lease="")
    login(client, bob).post(reverse("run_approve_plan", args=[queued_run.pk]), {"plan": "1. do it\n2. carefully"})
    queued_run.refresh_from_db()
    assert queued_run.status == RunStatus.QUEUED
    assert queued_run.approved_plan == "1. do it\n2. carefully"


def test_approving_a_run_that_waits_for_nothing_says_so(client, bob, queued_run):
    response = login(client, bob).post(reverse("run_approve_plan", args=[queued_run.pk]), {"plan": "x"}, follow=True)
    assert "not waiting for a plan approval" in response.content.decode()


def test_retrying_a_failed_run_starts_a_new_one_in_the_same_round(client, bob, queued_run, intent):
    AgentRun.objects.filter(pk=queued_run.pk).update(status=RunStatus.FAILED, reason="boom")
    intent.status = Status.FAILED
    intent.save()
    response = login(client, bob).post(reverse("run_retry", args=[queued_run.pk]))
    retry = AgentRun.objects.exclude(pk=queued_run.pk).get()
    assert response["Location"] == reverse("run_detail", args=[retry.pk])
    assert (retry.round, retry.attempt, retry.status) == (queued_run.round, queued_run.attempt, RunStatus.QUEUED)
    intent.refresh_from_db()
    assert intent.status == Status.QUEUED


def test_a_running_run_cannot_be_retried(client, bob, queued_run):
    response = login(client, bob).post(reverse("run_retry", args=[queued_run.pk]), follow=True)
    assert "Only a failed or cancelled run can be retried" in response.content.decode()
    assert AgentRun.objects.count() == 1
