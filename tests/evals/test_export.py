"""Dataset exports: the page, the background job, the download URL and the command, in every format."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import AsyncClient, Client
from django.urls import reverse
from django.utils import timezone

from agents.export import tool_calls, trl_to_openai_messages
from evals.exporting import write_export
from evals.models import Export, ExportStatus
from reviews.actions import do_approve
from reviews.merging import do_merge
from runs.models import AgentRun, ModelConfig
from tests.conftest import login
from tests.reviews.changes import change_request_of, propose, textstats

MODEL_KEY = "sk-live-MODELKEY-0123456789abcdef"
REPO_TOKEN = "ghp_REPOTOKEN0123456789abcdef"


def trajectory(n: int) -> dict[str, Any]:
    """A recorded run in which both secrets slipped into what the model saw and wrote."""

    def call(id: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
        return {"id": id, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}

    return {
        "messages": [
            {"role": "system", "content": "You are a careful engineer."},
            {"role": "user", "content": f"Fix word_count (run {n}). The key is {MODEL_KEY}."},
            {"role": "assistant", "content": "1. Read it. 2. Fix it.", "tool_calls": [call("c1", "view_file", {"path": "textstats.py"})]},
            {"role": "tool", "tool_call_id": "c1", "content": f"clone with {REPO_TOKEN}"},
            {"role": "assistant", "content": None, "tool_calls": [call("c2", "edit_file", {"path": "textstats.py", "old_text": "x", "new_text": f"y # {MODEL_KEY}"})]},
            {"role": "tool", "tool_call_id": "c2", "content": "edited"},
            {"role": "assistant", "content": None, "tool_calls": [call("c3", "submit", {"summary": "done"})]},
            {"role": "tool", "tool_call_id": "c3", "content": "submitted"},
        ],
        "tools": [{"type": "function", "function": {"name": name, "description": name, "parameters": {"type": "object"}}} for name in ("view_file", "edit_file", "submit")],
        "reward": None,
        "metadata": {"format": "slipway-trajectory/1"},
    }  # fmt: skip


def finished(intent, *, resolved: bool = True, attempt: int = 1, finish: bool = True) -> AgentRun:  # type: ignore[no-untyped-def]
    mark = f"\n# intent {intent.pk}, attempt {attempt}: {REPO_TOKEN}\n"
    files = {"textstats.py": (textstats() if resolved else textstats(fixed=False)) + mark}
    run = propose(intent, files, resolved=resolved, attempt=attempt, finish=finish)
    AgentRun.objects.filter(pk=run.pk).update(trajectory=trajectory(run.pk), finished_at=timezone.now())
    return run


@pytest.fixture
def secrets_(team, project):  # type: ignore[no-untyped-def]
    config = ModelConfig(team=team, name="live", base_url="http://127.0.0.1:9/v1", model="gpt-live")
    config.set_api_key(MODEL_KEY)
    config.save()
    project.set_credentials("bot", REPO_TOKEN)
    project.save()
    return config


@pytest.fixture
def runs(alice, team, project, secrets_):  # type: ignore[no-untyped-def]
    """Three runs of three intents: merged, approved, and unresolved with no verdict."""
    from intents.actions import do_file_intent
    from intents.models import Intent

    def intent(title: str):  # type: ignore[no-untyped-def]
        return do_file_intent(
            project, alice, Intent(title=title, description="d", model=secrets_), queue=False
        )

    merged = finished(intent("merge me"))
    do_approve(change_request_of(merged.intent), alice)
    do_merge(change_request_of(merged.intent), alice, "merge")
    approved = finished(intent("approve me"))
    do_approve(change_request_of(approved.intent), alice)
    unresolved = finished(intent("leave me"), resolved=False)
    AgentRun.objects.filter(pk__in=[merged.pk, approved.pk, unresolved.pk]).update(
        model=secrets_, model_name="gpt-live"
    )
    return {"merged": merged, "approved": approved, "unresolved": unresolved}


def export(client: Client, **form: Any) -> list[dict[str, Any]]:
    data = {"format": "openai", "outcome": "any", "extras": "on"} | form
    response = client.post(reverse("exports"), data)
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Disposition"].startswith("attachment;")
    body = b"".join(response.streaming_content).decode()
    assert MODEL_KEY not in body and REPO_TOKEN not in body
    return [json.loads(line) for line in body.splitlines()]


def test_an_openai_export_has_one_line_per_run_in_the_fine_tuning_shape(client, bob, runs):
    lines = export(login(client, bob))

    assert [line["metadata"]["run_id"] for line in lines] == sorted(r.pk for r in runs.values())
    for line in lines:
        assert set(line) == {"messages", "tools", "parallel_tool_calls", "reward", "metadata"}
        assert [m["role"] for m in line["messages"]] == [
            "system",
            "user",
            "assistant",
            "tool",
            "assistant",
            "tool",
            "assistant",
        ]
        assert all(
            isinstance(c["function"]["arguments"], str)
            for m in line["messages"]
            for c in m.get("tool_calls", [])
        )
        assert (
            "[REDACTED]" in line["messages"][1]["content"] and "[REDACTED]" in line["messages"][3]["content"]
        )
        assert line["reward"]["version"] == "slipway-reward/1"
        assert line["metadata"]["run_url"] == reverse("run_detail", args=[line["metadata"]["run_id"]])
        assert line["metadata"]["project"] == "demo" and line["metadata"]["model_config"] == "live"
    by_run = {line["metadata"]["run_id"]: line["reward"] for line in lines}
    assert by_run[runs["merged"].pk]["verdict"] == "merged" and by_run[runs["merged"].pk]["score"] == 1.0
    assert by_run[runs["approved"].pk]["verdict"] == "approved"
    assert by_run[runs["unresolved"].pk] | {"execution": None} == {
        "version": "slipway-reward/1", "score": 0.0, "resolved": False, "verdict": None, "execution": None,
    }  # fmt: skip


def test_a_trl_export_round_trips_the_tool_calls_of_the_openai_one(client, alice, runs):
    login(client, alice)
    openai = export(client, format="openai")
    trl = export(client, format="trl")
    assert len(trl) == len(openai) == 3
    for a, b in zip(openai, trl, strict=True):
        assert set(b) == {"messages", "tools", "reward", "metadata"}
        assert all(
            isinstance(c["function"]["arguments"], dict)
            for m in b["messages"]
            for c in m.get("tool_calls", [])
        )
        assert tool_calls(b["messages"]) == tool_calls(a["messages"])
        assert tool_calls(trl_to_openai_messages(b["messages"])) == tool_calls(a["messages"])
        assert b["messages"][3]["name"] == "view_file"


def test_swebench_predictions_carry_each_runs_patch(client, alice, runs):
    lines = export(login(client, alice), format="swebench", outcome="resolved")
    assert [line["instance_id"] for line in lines] == [
        f"slipway-run-{runs['merged'].pk}",
        f"slipway-run-{runs['approved'].pk}",
    ]
    run = AgentRun.objects.get(pk=runs["approved"].pk)
    assert lines[1]["model_name_or_path"] == "live"
    assert lines[1]["model_patch"] == run.diff.replace(REPO_TOKEN, "[REDACTED]")


def test_filters_pick_the_merged_the_approved_and_the_period(client, alice, runs, project):
    login(client, alice)
    assert [line["metadata"]["run_id"] for line in export(client, outcome="merged")] == [runs["merged"].pk]
    assert [line["metadata"]["run_id"] for line in export(client, outcome="approved")] == [
        runs["merged"].pk,
        runs["approved"].pk,
    ]
    assert len(export(client, project=project.pk)) == 3
    last_week = (timezone.now() - timedelta(days=7)).date().isoformat()
    AgentRun.objects.filter(pk=runs["unresolved"].pk).update(finished_at=timezone.now() - timedelta(days=7))
    assert [line["metadata"]["run_id"] for line in export(client, until=last_week)] == [runs["unresolved"].pk]
    assert len(export(client, since=timezone.now().date().isoformat())) == 2


def test_without_extras_a_line_is_exactly_what_openai_accepts(client, alice, runs):
    lines = export(login(client, alice), extras="")
    assert all(set(line) == {"messages", "tools", "parallel_tool_calls"} for line in lines)


def test_a_run_that_cannot_be_trained_on_is_skipped_and_said_so(alice, intent, settings, tmp_path):
    propose(intent, {"textstats.py": textstats()})  # its trajectory has no assistant message
    export_ = Export.objects.create(team=intent.team, created_by=alice, format="openai", filters={})
    assert write_export(export_.pk) == "done"
    export_.refresh_from_db()
    assert (export_.written, export_.skipped) == (0, 1)
    assert "1 skipped: the run has no assistant message" in export_.notes


def test_a_big_export_runs_in_the_background_with_progress_and_a_download_url(
    client, alice, bob, mallory, runs, settings, django_capture_on_commit_callbacks
):
    settings.SLIPWAY_EXPORT_INLINE_MAX = 2
    login(client, alice)
    with django_capture_on_commit_callbacks() as queued:  # the job goes to the worker on commit
        response = client.post(reverse("exports"), {"format": "trl", "outcome": "any", "extras": "on"})
    job = Export.objects.get()
    assert response["Location"] == reverse("export_detail", args=[job.pk])
    assert job.status == ExportStatus.QUEUED and job.total == 3 and len(queued) == 1
    assert 'hx-trigger="every 1s"' in client.get(response["Location"]).content.decode()

    assert write_export(job.pk) == "done"
    assert write_export(job.pk) == "skipped"  # a second delivery does nothing
    job.refresh_from_db()
    assert (job.status, job.written, job.progress) == (ExportStatus.DONE, 3, 100)
    assert Path(job.path).is_file() and job.size == Path(job.path).stat().st_size
    progress = client.get(response["Location"] + "?part=progress").content.decode()
    assert "hx-trigger" not in progress and reverse("export_download", args=[job.pk]) in progress

    download = login(Client(), bob).get(reverse("export_download", args=[job.pk]))
    body = b"".join(download.streaming_content).decode()
    assert download["Content-Disposition"] == f'attachment; filename="{job.filename}"'
    assert [json.loads(line)["metadata"]["run_id"] for line in body.splitlines()] == sorted(
        r.pk for r in runs.values()
    )
    assert MODEL_KEY not in body and REPO_TOKEN not in body
    assert login(Client(), mallory).get(reverse("export_download", args=[job.pk])).status_code == 404
    assert login(Client(), mallory).get(reverse("export_detail", args=[job.pk])).status_code == 404
    assert Client().get(reverse("export_download", args=[job.pk])).status_code == 302  # to the login page


def test_mallorys_export_never_holds_alices_runs(client, mallory, runs):
    login(client, mallory)
    response = client.post(reverse("exports"), {"format": "openai", "outcome": "any", "extras": "on"})
    assert b"".join(response.streaming_content) == b""


def test_a_viewer_cannot_export(client, vera, runs):
    assert (
        login(client, vera).post(reverse("exports"), {"format": "openai", "outcome": "any"}).status_code
        == 403
    )


def test_the_command_writes_the_same_lines(alice, team, runs, tmp_path):
    out = tmp_path / "merged.jsonl"
    call_command(
        "export_runs", "--team", team.slug, "--format", "openai", "--outcome", "merged", "-o", str(out)
    )
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["metadata"]["run_id"] for line in lines] == [runs["merged"].pk]
    assert MODEL_KEY not in out.read_text()


@pytest.mark.django_db(transaction=True)
async def test_under_asgi_the_export_streams_in_batches(alice, runs):
    from asgiref.sync import sync_to_async
    from channels.db import database_sync_to_async
    from django.db import connections

    @database_sync_to_async
    def cookie() -> str:
        client = Client()
        client.force_login(alice)
        return client.cookies["sessionid"].value

    client = AsyncClient()
    client.cookies["sessionid"] = await cookie()
    response = await client.post(reverse("exports"), {"format": "openai", "outcome": "any", "extras": "on"})
    assert response.is_async  # an async iterator: Django does not read it whole before sending
    body = b"".join([chunk async for chunk in response.streaming_content]).decode()
    assert len(body.splitlines()) == 3 and MODEL_KEY not in body
    # The rows were read in the thread sync code runs in under ASGI: close its connection there.
    await sync_to_async(connections.close_all, thread_sensitive=True)()


def test_a_losing_attempt_is_exported_too(client, alice, intent, secrets_):
    loser = finished(intent, resolved=False, finish=False)
    winner = finished(intent, attempt=2)
    ids = [line["metadata"]["run_id"] for line in export(login(client, alice))]
    assert ids == [loser.pk, winner.pk]


def test_the_export_page_offers_every_format_and_lists_background_exports(client, alice, team):
    done = Export.objects.create(
        team=team, created_by=alice, format="trl", status=ExportStatus.DONE, written=12, path="/x"
    )
    page = login(client, alice).get(reverse("exports")).content.decode()
    for label in (
        "OpenAI fine-tuning JSONL",
        "Hugging Face conversational JSONL (TRL)",
        "SWE-bench predictions",
    ):
        assert label in page
    assert reverse("export_download", args=[done.pk]) in page
