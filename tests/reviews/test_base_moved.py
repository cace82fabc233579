"""The base branch moved after the run: a merge that still applies goes through; one that does not is
reported, pushes nothing, and offers a rebase by the agent."""

from __future__ import annotations

from pathlib import Path

from django.urls import reverse

from accounts.models import AuditEntry
from intents.models import Status
from reviews.actions import do_approve
from reviews.merging import do_merge, mirror_for
from reviews.models import CRStatus
from runs.models import AgentRun, RunStatus
from tests.conftest import login
from tests.reviews.changes import FIXED, change_request_of, fix_word_count, git, propose, textstats


def upstream_commit(repo: Path, path: str, text: str, message: str) -> str:
    (repo / path).write_text(text)
    git(repo, "commit", "-q", "-am", message)
    return git(repo, "rev-parse", "HEAD")


def conflicting_upstream_fix(repo: Path) -> str:
    """Someone fixed the same line differently on main meanwhile (and touched the readme too)."""
    text = textstats(fixed=False).replace('    return len(text.split(" "))\n', "    return len([w for w in text.split(' ') if w])\n")
    (repo / "README.md").write_text("Text statistics, now counting words properly.\n")
    return upstream_commit(repo, "textstats.py", text, "textstats: skip empty words")


def approved_change(intent, alice):  # type: ignore[no-untyped-def]
    fix_word_count(intent)
    cr = change_request_of(intent)
    do_approve(cr, alice)
    cr.refresh_from_db()
    return cr


def test_a_base_that_moved_elsewhere_still_merges(client, alice, intent, demo_repo):
    cr = approved_change(intent, alice)
    moved = upstream_commit(demo_repo, "README.md", "A new readme.\n", "docs: new readme")

    login(client, alice).post(reverse("cr_merge", args=[cr.pk]), {"strategy": "merge"})

    cr.refresh_from_db()
    assert cr.status == CRStatus.MERGED
    assert git(demo_repo, "log", "-1", "--format=%P", "main").split() == [moved, cr.head_sha]
    assert (demo_repo / "README.md").read_text() == "A new readme.\n" and FIXED in (demo_repo / "textstats.py").read_text()


def test_a_conflict_is_detected_reported_and_nothing_is_pushed(client, alice, intent, demo_repo, model):
    cr = approved_change(intent, alice)
    moved = conflicting_upstream_fix(demo_repo)

    response = login(client, alice).post(reverse("cr_merge", args=[cr.pk]), {"strategy": "merge"})

    assert response.status_code == 302
    assert git(demo_repo, "rev-parse", "main") == moved and git(demo_repo, "status", "--porcelain") == ""
    cr.refresh_from_db()
    intent.refresh_from_db()
    assert cr.status == CRStatus.APPROVED and intent.status == Status.APPROVED
    assert cr.conflict_files == ["textstats.py"] and cr.checked_base_sha == moved
    page = client.get(reverse("change_request", args=[cr.pk])).content.decode()
    assert "This change no longer applies to main" in page and "textstats.py" in page
    assert "Rebase with the agent" in page and reverse("cr_rebase", args=[cr.pk]) in page
    failed = AuditEntry.objects.get(action="review.merge_failed")
    assert failed.after["conflicts"] == ["textstats.py"]


def test_checking_finds_the_conflict_without_merging(client, alice, intent, demo_repo):
    cr = approved_change(intent, alice)
    conflicting_upstream_fix(demo_repo)

    login(client, alice).post(reverse("cr_check", args=[cr.pk]), {"strategy": "merge"})

    cr.refresh_from_db()
    assert cr.conflict_files == ["textstats.py"] and cr.status == CRStatus.APPROVED


def test_a_clean_check_says_so(client, alice, intent, demo_repo):
    cr = approved_change(intent, alice)
    head = git(demo_repo, "rev-parse", "main")
    response = login(client, alice).post(reverse("cr_check", args=[cr.pk]), {"strategy": "merge"}, follow=True)
    assert "still applies to main" in response.content.decode()
    cr.refresh_from_db()
    assert cr.checked_base_sha == head and cr.merge_error == "" and git(demo_repo, "rev-parse", "main") == head


def test_fast_forward_is_refused_once_the_base_moved(client, alice, intent, demo_repo):
    cr = approved_change(intent, alice)
    moved = upstream_commit(demo_repo, "README.md", "A new readme.\n", "docs: new readme")

    login(client, alice).post(reverse("cr_merge", args=[cr.pk]), {"strategy": "ff"})

    cr.refresh_from_db()
    assert cr.status == CRStatus.APPROVED and git(demo_repo, "rev-parse", "main") == moved
    assert "cannot be fast-forwarded" in cr.merge_error
    page = client.get(reverse("change_request", args=[cr.pk])).content.decode()
    assert "Rebase with the agent" in page


def test_rebase_with_the_agent_starts_a_rebase_run_on_the_same_branch(client, alice, intent, demo_repo, model):
    cr = approved_change(intent, alice)
    conflicting_upstream_fix(demo_repo)
    login(client, alice).post(reverse("cr_merge", args=[cr.pk]), {"strategy": "merge"})

    response = client.post(reverse("cr_rebase", args=[cr.pk]))

    assert response.status_code == 302
    run = AgentRun.objects.get(intent=intent, round=2)
    assert run.kind == "rebase" and run.branch == cr.branch and run.status == RunStatus.QUEUED
    intent.refresh_from_db()
    assert intent.status == Status.QUEUED
    cr.refresh_from_db()
    assert cr.status == CRStatus.OPEN and cr.approved_by is None
    entry = AuditEntry.objects.get(action="review.rebase")
    assert entry.actor == alice and entry.after["round"] == 2 and entry.after["conflicts"] == ["textstats.py"]


def rebased_round(client, alice, intent, demo_repo):  # type: ignore[no-untyped-def]
    """A conflict, "rebase with the agent", and the rebase run as the pipeline runs it: the moved base
    merged into the branch with conflict markers left, the agent's resolution committed and published."""
    from runs.pipeline import prepare
    from runs.recorder import EventRecorder

    cr = approved_change(intent, alice)
    moved = conflicting_upstream_fix(demo_repo)
    login(client, alice).post(reverse("cr_merge", args=[cr.pk]), {"strategy": "merge"})
    client.post(reverse("cr_rebase", args=[cr.pk]))
    run = AgentRun.objects.select_related("intent", "project").get(intent=intent, round=2)
    recorder = EventRecorder(run)
    workspace = prepare(run, recorder)
    recorder.close()
    assert "<<<<<<<" in (workspace.path / "textstats.py").read_text()
    # The agent resolves the conflict by keeping its fix; the worker commits a merge of both parents.
    rebased = propose(intent, {"textstats.py": textstats()}, run=run, workspace=workspace, summary="Merged main; kept the fix.")
    return cr, moved, rebased


# Committed data in both: the pipeline's event recorder writes from a thread of its own.


def test_a_rebased_round_merges_cleanly(transactional_db, client, alice, intent, demo_repo, model):
    cr, moved, rebased = rebased_round(client, alice, intent, demo_repo)

    assert git(mirror_for(cr.project), "log", "-1", "--format=%P", rebased.head_sha).split() == [cr.head_sha, moved]
    cr.refresh_from_db()
    assert cr.run == rebased and cr.rounds == 2 and cr.conflict_files == [] and cr.merge_error == ""
    do_approve(cr, alice)

    do_merge(cr, alice, "merge")

    cr.refresh_from_db()
    assert cr.status == CRStatus.MERGED and FIXED in (demo_repo / "textstats.py").read_text()
    assert git(demo_repo, "merge-base", "--is-ancestor", moved, "main") == ""


def test_a_rebased_rounds_diff_holds_the_change_and_not_the_bases(transactional_db, client, alice, intent, demo_repo, model):
    cr, moved, rebased = rebased_round(client, alice, intent, demo_repo)
    assert rebased.base_sha == moved
    assert "README.md" not in rebased.diff
