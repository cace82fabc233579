"""Merging into a linked local repository: a working copy with main checked out, as the demo project is."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from accounts.models import AuditEntry
from intents.models import Status
from reviews.actions import do_approve
from reviews.models import CRStatus
from tests.conftest import login
from tests.reviews.changes import FIXED, change_request_of, fix_word_count, git


def approved_change(intent, alice):  # type: ignore[no-untyped-def]
    fix_word_count(intent)
    cr = change_request_of(intent)
    do_approve(cr, alice)
    cr.refresh_from_db()
    return cr


def merge(client, cr, strategy: str):  # type: ignore[no-untyped-def]
    return client.post(reverse("cr_merge", args=[cr.pk]), {"strategy": strategy})


@pytest.mark.parametrize("strategy", ["merge", "squash", "ff"])
def test_each_strategy_lands_the_fix_on_main_and_in_the_working_tree(client, alice, intent, demo_repo: Path, strategy):
    before = git(demo_repo, "rev-parse", "main")
    cr = approved_change(intent, alice)

    response = merge(login(client, alice), cr, strategy)

    assert response.status_code == 302
    cr.refresh_from_db()
    intent.refresh_from_db()
    assert cr.status == CRStatus.MERGED and intent.status == Status.MERGED
    main = git(demo_repo, "rev-parse", "main")
    assert cr.merge_commit == main and cr.merge_strategy == strategy and cr.merged_by == alice
    # The checked-out branch moved and its working tree with it: nothing left uncommitted, the fix on disk.
    assert git(demo_repo, "status", "--porcelain") == ""
    assert FIXED in (demo_repo / "textstats.py").read_text()
    parents = git(demo_repo, "log", "-1", "--format=%P", "main").split()
    if strategy == "merge":
        assert parents == [before, cr.head_sha]
        assert git(demo_repo, "log", "-1", "--format=%an", "main") == "alice"
    elif strategy == "squash":
        assert parents == [before]
        # The agent stays the author of what it wrote; alice committed it.
        assert git(demo_repo, "log", "-1", "--format=%an|%cn", "main") == "Slipway Agent|alice"
        assert f"Change-Request: {cr.pk}" in git(demo_repo, "log", "-1", "--format=%B", "main")
    else:
        assert main == cr.head_sha
    entry = AuditEntry.objects.get(action="review.merge")
    assert entry.actor == alice and entry.after["strategy"] == strategy and entry.after["commit"] == main
    assert entry.before["status"] == CRStatus.APPROVED


def test_the_page_links_the_merge_commit_and_shows_it(client, alice, intent, demo_repo):
    cr = approved_change(intent, alice)
    merge(login(client, alice), cr, "merge")
    cr.refresh_from_db()

    page = client.get(reverse("change_request", args=[cr.pk])).content.decode()
    assert reverse("cr_commit", args=[cr.pk]) in page and cr.merge_commit[:10] in page

    commit = client.get(reverse("cr_commit", args=[cr.pk])).content.decode()
    assert cr.merge_commit in commit
    assert "Merge slipway/" in commit and "textstats.py" in commit and "@@ -5,7 +5,7 @@" in commit


def test_the_merge_strategy_defaults_to_the_projects(client, alice, intent, project, demo_repo):
    project.merge_strategy = "squash"
    project.save()
    cr = approved_change(intent, alice)
    login(client, alice).post(reverse("cr_merge", args=[cr.pk]))
    cr.refresh_from_db()
    assert cr.merge_strategy == "squash"


def test_after_merge_the_branch_can_be_deleted(client, alice, intent, demo_repo):
    from reviews.merging import mirror_for

    cr = approved_change(intent, alice)
    merge(login(client, alice), cr, "merge")
    mirror = mirror_for(cr.project)
    # The run's branch was published to the linked repository and fetched into the mirror.
    assert git(demo_repo, "branch", "--list", cr.branch) and git(mirror, "branch", "--list", cr.branch)

    response = client.post(reverse("cr_delete_branch", args=[cr.pk]))

    assert response.status_code == 302
    assert git(demo_repo, "branch", "--list", cr.branch) == "" and git(mirror, "branch", "--list", cr.branch) == ""
    cr.refresh_from_db()
    assert cr.branch_deleted_at is not None
    entry = AuditEntry.objects.get(action="review.delete_branch", actor=alice)
    assert entry.after == {"deleted": [cr.branch]}
    # The merged history is untouched: main still holds the change.
    assert git(demo_repo, "merge-base", "--is-ancestor", cr.head_sha, "main") == ""


def test_an_open_change_keeps_its_branch(client, alice, intent):
    fix_word_count(intent)
    cr = change_request_of(intent)
    login(client, alice).post(reverse("cr_delete_branch", args=[cr.pk]))
    cr.refresh_from_db()
    assert cr.branch_deleted_at is None


def test_uncommitted_work_in_the_target_working_tree_stops_the_merge_with_a_clear_page(client, alice, intent, demo_repo):
    cr = approved_change(intent, alice)
    before = git(demo_repo, "rev-parse", "main")
    (demo_repo / "README.md").write_text("someone is editing this\n")

    response = merge(login(client, alice), cr, "merge")

    assert response.status_code == 502
    body = response.content.decode()
    assert "uncommitted changes" in body and "Nothing was pushed" in body
    assert git(demo_repo, "rev-parse", "main") == before
    assert (demo_repo / "README.md").read_text() == "someone is editing this\n"
    cr.refresh_from_db()
    assert cr.status == CRStatus.APPROVED and "uncommitted changes" in cr.merge_error
    assert AuditEntry.objects.filter(action="review.merge_failed", actor=alice).exists()


def test_failing_tests_block_the_merge_when_the_project_requires_passing_ones(client, alice, intent, demo_repo):
    fix_word_count(intent, resolved=False)
    cr = change_request_of(intent)
    do_approve(cr, alice)
    before = git(demo_repo, "rev-parse", "main")

    response = merge(login(client, alice), cr, "merge")

    assert response.status_code == 302
    cr.refresh_from_db()
    assert cr.status == CRStatus.APPROVED
    assert git(demo_repo, "rev-parse", "main") == before
    page = client.get(reverse("change_request", args=[cr.pk])).content.decode()
    assert "requires passing tests" in page


def test_without_the_rule_failing_tests_do_not_block(client, alice, intent, project, demo_repo):
    project.require_passing_tests = False
    project.save()
    fix_word_count(intent, resolved=False)
    cr = change_request_of(intent)
    do_approve(cr, alice)
    merge(login(client, alice), cr, "merge")
    cr.refresh_from_db()
    assert cr.status == CRStatus.MERGED


def test_a_second_merge_of_the_same_change_is_refused(client, alice, intent, demo_repo):
    cr = approved_change(intent, alice)
    merge(login(client, alice), cr, "merge")
    main = git(demo_repo, "rev-parse", "main")
    response = merge(client, cr, "merge")
    assert response.status_code == 302
    assert git(demo_repo, "rev-parse", "main") == main
    assert AuditEntry.objects.filter(action="review.merge").count() == 1
