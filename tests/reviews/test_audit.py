"""The audit log holds every decision and settings change, with who, when, before and after,
and only the team's maintainers read it."""

from __future__ import annotations

from django.urls import reverse

from accounts.models import AuditEntry
from reviews.actions import do_approve, do_close, do_comment, do_request_changes
from reviews.merging import do_merge
from runs.actions import do_cancel_intent
from tests.conftest import login
from tests.reviews.changes import change_request_of, fix_word_count, propose, textstats


def test_approval_change_request_merge_close_cancel_and_settings_are_all_audited(client, alice, bob, project, intent, model, demo_repo):
    from intents.actions import do_file_intent
    from intents.models import Intent

    fix_word_count(intent)
    cr = change_request_of(intent)
    do_comment(cr, bob, "Handle tabs.")
    run = do_request_changes(cr, bob)
    propose(intent, {"textstats.py": textstats() + "# tabs too\n"}, run=run)
    do_approve(cr, alice)
    do_merge(cr, alice, "squash")
    closing = do_file_intent(project, alice, Intent(title="Closing"), queue=False)
    fix_word_count(closing)
    do_close(change_request_of(closing), bob)
    cancelling = do_file_intent(project, alice, Intent(title="Cancelling"), queue=False)
    do_cancel_intent(cancelling, bob)
    login(client, alice).post(
        reverse("project_settings", args=[project.pk]),
        {"name": project.name, "default_branch": "main", "test_command": project.test_command, "setup_command": "",
         "network_policy": "none", "memory_mb": 2048, "cpus": 2, "pids_limit": 256, "disk_mb": 2048, "command_timeout": 300,
         "run_timeout": 1800, "max_steps": 50, "max_cost": 5, "max_concurrent_runs": 4, "merge_strategy": "ff",
         "require_passing_tests": "on", "credentials_username": ""},
    )  # fmt: skip

    entries = {e.action: e for e in AuditEntry.objects.all()}
    for action, actor in [("review.request_changes", bob), ("review.approve", alice), ("review.merge", alice),
                          ("review.close", bob), ("intent.cancel", bob), ("project.settings", alice)]:  # fmt: skip
        assert action in entries, action
        entry = entries[action]
        assert entry.actor == actor and entry.created_at and (entry.before or entry.after), action
    assert entries["project.settings"].before["merge_strategy"] == "merge" and entries["project.settings"].after["merge_strategy"] == "ff"
    assert entries["project.settings"].after["require_maintainer_approval"] is False

    log = client.get(reverse("audit_log")).content.decode()
    for action in ("review.request_changes", "review.approve", "review.merge", "review.close", "intent.cancel", "project.settings"):
        assert action in log


def test_only_maintainers_read_the_audit_log(client, alice, bob, vera, mallory, team):
    assert login(client, alice).get(reverse("audit_log")).status_code == 200
    assert login(client, bob).get(reverse("audit_log")).status_code == 403
    assert login(client, vera).get(reverse("audit_log")).status_code == 403
    # mallory sees her own team's log, never alice's.
    body = login(client, mallory).get(reverse("audit_log")).content.decode()
    assert "Alice" not in body
