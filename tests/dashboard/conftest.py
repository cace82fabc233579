"""Seeded teams for the dashboard's tests: small, exact, and the same every time (a fixed seed and now)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

# A Wednesday in the middle of a month, in working hours: every period preset has a full past.
NOW = datetime(2025, 6, 18, 15, 30, 12, 345678, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_figures(settings: Any) -> None:
    """Every figure computed afresh unless a test is about the cache itself."""
    settings.SLIPWAY_DASHBOARD_CACHE_SECONDS = 0


@pytest.fixture(scope="module")
def seeded(django_db_setup: Any, django_db_blocker: Any) -> Iterator[Any]:
    """Two teams with 100 days of history, seeded once per module and removed after it.

    The tests that use it only read; committing the rows once saves a second of seeding per test.
    """
    from django.conf import settings

    from dashboard.seed import SeedConfig, seed

    hashers = settings.PASSWORD_HASHERS
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # seeding, not security
    with django_db_blocker.unblock():
        try:
            summary = seed(SeedConfig(intents=360, teams=2, days=100, seed=7, events_per_run=2, now=NOW), log=lambda line: None)
        finally:
            settings.PASSWORD_HASHERS = hashers
    try:
        yield summary
    finally:
        with django_db_blocker.unblock():
            remove(summary)


def remove(summary: Any) -> None:
    from django.contrib.auth.models import User

    from accounts.models import Team
    from dashboard.seed import WORKERS
    from reviews.models import ChangeRequest
    from runs.models import Worker

    teams = [s.team.pk for s in summary.teams]
    ChangeRequest.objects.filter(team_id__in=teams).delete()  # they protect their runs
    User.objects.filter(memberships__team_id__in=teams).delete()
    Team.objects.filter(pk__in=teams).delete()
    Worker.objects.filter(hostname__in=WORKERS).delete()


@pytest.fixture
def big_team(seeded: Any, db: Any) -> Any:
    return seeded.teams[0].team


def filters(team: Any, **params: str) -> Any:
    from dashboard.filters import parse_filters

    return parse_filters(team, params, now=NOW)
