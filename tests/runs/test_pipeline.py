"""The product's main path with real parts: PostgreSQL, Redis, a Celery worker process,
bubblewrap sandboxes, real git, and the scripted model server."""

from __future__ import annotations

import os
import signal

import pytest

from intents.actions import do_file_intent
from intents.models import Intent, Status
from reviews.models import ChangeRequest
from runs.actions import do_approve_plan, do_cancel_intent
from runs.models import AgentRun, RunEvent, RunStatus
from runs.recovery import recover_stalled_runs
from tests.support.platform import celery_worker, wait_for
from tests.support.solver import demo_fixer

pytestmark = pytest.mark.slow


def file_intent(project, author, **fields) -> Intent:
    return do_file_intent(project, author, Intent(title="Fix word_count", description="It miscounts whitespace.", **fields), queue=True)


def intent_status(intent: Intent) -> str:
    intent.refresh_from_db()
    return intent.status


def events_of(run: AgentRun) -> list[RunEvent]:
    return list(RunEvent.objects.filter(run=run).order_by("seq"))


def assert_contiguous(run: AgentRun) -> list[RunEvent]:
    events = events_of(run)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    return events


def sandboxes_of(run: AgentRun, backend: str = "bubblewrap") -> list[str]:
    """Sandboxes of this run (of this test's installation) still alive."""
    from agents.sandbox import LABEL_RUN, records
    from runs.sandboxes import instance_id

    prefix = f"{instance_id()}/{run.pk}:"
    if backend == "docker":
        import docker

        containers = docker.from_env().containers.list(all=True, filters={"label": LABEL_RUN})
        return [c.id for c in containers if c.labels.get(LABEL_RUN, "").startswith(prefix)]
    state = records.default_state_dir()
    return [r.id for r in records.load_all(state) if r.labels.get(LABEL_RUN, "").startswith(prefix) and r.alive()]


def test_a_queued_intent_on_the_demo_repository_ends_as_a_resolved_change_request(alice, project, model, worker, demo_repo):
    intent = file_intent(project, alice)
    wait_for(lambda: intent_status(intent) in (Status.IN_REVIEW, Status.FAILED), what="the run to end", log=worker.log_path)
    assert intent.status == Status.IN_REVIEW, intent.failure_reason
    run = AgentRun.objects.get(intent=intent)
    assert run.status == RunStatus.DONE
    assert run.resolved is True
    assert run.reward["resolved"] is True
    assert "-    return len(text.split(\" \"))" in run.diff and "+    return len(text.split())" in run.diff
    assert run.baseline["failed"] >= 1 and run.final["failed"] == 0, (run.baseline, run.final)
    cr = ChangeRequest.objects.get(intent=intent)
    assert cr.run == run and cr.branch == run.branch and run.branch.startswith(f"slipway/{intent.pk}-fix-word-count/")
    # The commit carries the agent identity and the trailers, on the branch in the mirror.
    events = assert_contiguous(run)
    kinds = [e.kind for e in events]
    assert kinds.count("plan") == 1 and "tool_call" in kinds and "test_result" in kinds and "diff" in kinds
    # The key reached the model server, and nowhere else.
    secret = "sk-test-SECRET-key-0123456789"
    assert all(secret not in str(e.payload) for e in events)
    assert secret not in str(run.trajectory) and secret not in str(run.state)
    # Nothing of the run is left behind: no sandbox, no workspace.
    assert sandboxes_of(run) == []


def test_the_same_task_delivered_twice_runs_once(alice, project, model, worker):
    from runs.tasks import execute_run

    intent = file_intent(project, alice)
    run = AgentRun.objects.get(intent=intent)
    wait_for(lambda: AgentRun.objects.get(pk=run.pk).lease, what="the dispatch")
    lease = AgentRun.objects.get(pk=run.pk).lease
    execute_run.apply_async(args=[run.pk, lease], queue="agents")  # a second delivery of the same dispatch
    wait_for(lambda: intent_status(intent) == Status.IN_REVIEW, what="the run to end", log=worker.log_path)
    events = assert_contiguous(run)
    assert sum(1 for e in events if e.kind == "plan") == 1, [(e.kind, e.payload) for e in events]
    assert sum(1 for e in events if e.kind == "status" and e.payload.get("status") == "fetching") == 1
    wait_for(lambda: "skipped" in worker.log_path.read_text() or "not claimable" in worker.log_path.read_text(), what="the duplicate to be skipped")


@pytest.mark.parametrize("backend", ["bubblewrap", pytest.param("docker", marks=pytest.mark.docker)])
def test_a_worker_killed_mid_run_is_resumed_from_its_last_snapshot(backend, alice, project, model_server, team, transactional_db, _data_dir, clean_broker, settings):
    from runs.models import ModelConfig

    model_server.set_script([demo_fixer(slow_turn=3, slow_seconds=4)] * 50)
    config = ModelConfig.objects.create(team=team, name="slow", base_url=model_server.openai_base_url, model="scripted")
    team.default_model = config
    team.save()
    settings.SLIPWAY_STALL_SECONDS = 1.5
    with celery_worker(_data_dir, SLIPWAY_SANDBOX_BACKEND=backend) as first:
        intent = file_intent(project, alice)
        run = AgentRun.objects.get(intent=intent)
        # Killed while the model "thinks" about step 3: the edit of step 2 is in a snapshot.
        wait_for(lambda: AgentRun.objects.get(pk=run.pk).steps >= 3, what="three steps", log=first.log_path)
        dead_lease = AgentRun.objects.get(pk=run.pk).lease
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    before = len(events_of(run))
    wait_for(lambda: recover_stalled_runs(), timeout=20, interval=0.3, what="the stalled run to be requeued")
    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED and run.resumes == 1
    with celery_worker(_data_dir, SLIPWAY_SANDBOX_BACKEND=backend) as second:
        wait_for(lambda: intent_status(intent) in (Status.IN_REVIEW, Status.FAILED), what="the resumed run to end", log=second.log_path)
    assert intent.status == Status.IN_REVIEW, intent.failure_reason
    run.refresh_from_db()
    assert run.resolved is True
    events = assert_contiguous(run)
    assert len(events) > before
    assert any(e.kind == "status" and e.payload.get("status") == "requeued" for e in events)
    assert any(e.kind == "status" and e.payload.get("status") == "resumed" for e in events)
    # It carried on instead of starting over: one plan, and the model was not asked to plan again.
    assert sum(1 for e in events if e.kind == "plan") == 1
    asked_after_resume = [r for r in model_server.requests if len(r.messages) > 2]
    assert asked_after_resume, "the resumed run sent the recorded history"
    from agents.sandbox import get_backend
    from runs.sandboxes import run_label

    # A bubblewrap sandbox dies with its worker; a container outlives it until the reaper comes.
    # (Only the dead lease is reaped here: other tests may have live sandboxes on this host.)
    left_behind = sandboxes_of(run, backend)
    if backend == "docker":
        assert left_behind, "the killed worker's container outlived it"
    reaped = get_backend(backend).reap(lambda label: label != run_label(run.pk, dead_lease))
    assert {s[:12] for s in left_behind} <= {s[:12] for s in reaped}
    assert sandboxes_of(run, backend) == []


def test_cancelling_mid_run_stops_the_agent_and_removes_its_sandbox(alice, project, model_server, model, worker):
    model_server.set_script([demo_fixer(slow_turn=2, slow_seconds=8)] * 20)
    intent = file_intent(project, alice)
    run = AgentRun.objects.get(intent=intent)
    wait_for(lambda: AgentRun.objects.get(pk=run.pk).steps >= 2, what="two steps", log=worker.log_path)
    do_cancel_intent(intent, alice)
    wait_for(lambda: AgentRun.objects.get(pk=run.pk).status == RunStatus.CANCELLED, timeout=30, what="the run to stop", log=worker.log_path)
    assert intent_status(intent) == Status.CANCELLED
    run.refresh_from_db()
    assert run.outcome == "cancelled"
    assert not ChangeRequest.objects.filter(intent=intent).exists()
    assert sandboxes_of(run) == []
    assert_contiguous(run)


def test_plan_approval_stops_the_run_and_an_edited_plan_resumes_it(alice, project, model_server, model, worker):
    model_server.set_script([demo_fixer()] * 20)
    intent = file_intent(project, alice, requires_plan_approval=True)
    run = AgentRun.objects.get(intent=intent)
    wait_for(lambda: AgentRun.objects.get(pk=run.pk).status == RunStatus.AWAITING_PLAN, what="the plan", log=worker.log_path)
    run.refresh_from_db()
    assert "Split on any whitespace" in run.plan
    assert intent_status(intent) == Status.RUNNING
    asked = len(model_server.requests)
    do_approve_plan(run, alice, run.plan + "\n5. Also keep line_count as it is.")
    wait_for(lambda: intent_status(intent) in (Status.IN_REVIEW, Status.FAILED), what="the approved run to end", log=worker.log_path)
    assert intent.status == Status.IN_REVIEW, intent.failure_reason
    after = model_server.requests[asked:]
    assert "keep line_count as it is" in after[0].text
    run.refresh_from_db()
    assert run.resolved is True
    assert_contiguous(run)


def test_best_of_three_proposes_the_only_attempt_that_passes(alice, project, model_server, model, worker):
    model_server.set_script([demo_fixer(good=lambda seed: seed == 2)] * 60)
    intent = file_intent(project, alice, attempts=3)
    wait_for(lambda: intent_status(intent) in (Status.IN_REVIEW, Status.FAILED), timeout=120, what="three attempts", log=worker.log_path)
    runs = {r.attempt: r for r in AgentRun.objects.filter(intent=intent)}
    assert set(runs) == {1, 2, 3}
    assert runs[2].resolved is True
    assert runs[1].resolved is False and runs[3].resolved is False
    assert ChangeRequest.objects.get(intent=intent).run == runs[2]
    assert len({r.branch for r in runs.values()}) == 3


def test_a_model_endpoint_that_is_down_fails_the_run_with_a_clear_reason(alice, project, team, worker):
    from runs.models import ModelConfig

    config = ModelConfig.objects.create(team=team, name="down", base_url="http://127.0.0.1:9/v1", model="nothing")
    team.default_model = config
    team.save()
    intent = file_intent(project, alice)
    wait_for(lambda: intent_status(intent) == Status.FAILED, what="the run to fail", log=worker.log_path)
    run = AgentRun.objects.get(intent=intent)
    assert run.status == RunStatus.FAILED
    assert "connect" in run.reason.lower() or "refused" in run.reason.lower(), run.reason
    assert "connect" in intent.failure_reason.lower() or "refused" in intent.failure_reason.lower()
    assert "Traceback" not in run.reason
