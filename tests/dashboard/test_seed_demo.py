"""`manage.py seed_demo`: realistic teams fast, and never over a database that has data without --force."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, F, Q

from accounts.models import Team
from intents.models import Intent
from reviews.models import ChangeRequest
from runs.models import AgentRun, RunEvent

ARGS = ["--intents", "150", "--teams", "2", "--days", "20", "--events-per-run", "4", "--no-vacuum"]


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_it_seeds_teams_with_runs_events_and_reviews(db):
    call_command("seed_demo", *ARGS, stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert Team.objects.filter(name__startswith="Demo ").count() == 2
    assert Intent.objects.count() == 150
    runs = AgentRun.objects.count()
    assert 2.2 * 150 < runs < 3.8 * 150
    started = AgentRun.objects.filter(started_at__isnull=False).count()
    assert 2 * started < RunEvent.objects.count() < 8 * started
    assert ChangeRequest.objects.count() > 50
    # Consistent rows: a change request proposes a run of its own intent, merged intents have merged changes.
    assert not ChangeRequest.objects.exclude(run__intent=F("intent")).exists()
    assert not Intent.objects.filter(status="merged").exclude(change_request__status="merged").exists()
    assert not AgentRun.objects.filter(Q(finished_at__lt=F("started_at")) | Q(started_at__lt=F("created_at"))).exists()
    sizes = list(Intent.objects.values("team").annotate(n=Count("id")).order_by("-n").values_list("n", flat=True))
    assert sizes == [100, 50]  # falling sizes: 2:1 for two teams


def test_it_refuses_a_database_that_has_intents(db, intent):
    with pytest.raises(CommandError, match="--force"):
        call_command("seed_demo", *ARGS)
    assert Intent.objects.count() == 1


def test_with_force_it_adds_new_teams_beside_the_data(db, intent):
    call_command("seed_demo", *ARGS, "--force", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert Intent.objects.count() == 151
    assert Intent.objects.filter(pk=intent.pk, title="Fix word_count").exists()


def test_the_same_seed_gives_the_same_data(db):
    call_command("seed_demo", *ARGS, "--teams", "1", stdout=open("/dev/null", "w"))  # noqa: SIM115
    first = list(Intent.objects.order_by("created_at").values_list("title", "status", "priority"))
    ChangeRequest.objects.all().delete()  # they protect their runs
    Intent.objects.all().delete()
    call_command("seed_demo", *ARGS, "--teams", "1", "--force", stdout=open("/dev/null", "w"))  # noqa: SIM115
    second = list(Intent.objects.order_by("created_at").values_list("title", "status", "priority"))
    assert [t[0] for t in first] == [t[0] for t in second]
