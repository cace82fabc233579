"""Shared test configuration: the real PostgreSQL and Redis, nothing mocked.

Three personas, as in healthchecks: alice owns the team, bob is her teammate,
and mallory, who has a team of her own, should have no access to alice's stuff.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

# Each test process gets Redis databases of its own, so tests never meet a
# running `make run` (database 0) or each other under pytest-xdist.
_worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
_db = 10 + int(_worker.removeprefix("gw") or 0) % 6
TEST_REDIS_URL = f"redis://127.0.0.1:6379/{_db}"
settings.REDIS_URL = TEST_REDIS_URL
settings.CELERY_BROKER_URL = TEST_REDIS_URL
settings.CACHES["default"]["LOCATION"] = TEST_REDIS_URL
settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"] = [TEST_REDIS_URL]
settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = f"slipway-test-{_worker}"

from config.celery import app as celery_app  # noqa: E402

celery_app.conf.broker_url = TEST_REDIS_URL


@pytest.fixture(autouse=True)
def _data_dir(tmp_path_factory: pytest.TempPathFactory, settings) -> Iterator[Path]:  # type: ignore[no-untyped-def]
    data = tmp_path_factory.mktemp("slipway-data")
    settings.SLIPWAY_DATA_DIR = data
    settings.SLIPWAY_MIRROR_DIR = data / "mirrors"
    settings.SLIPWAY_WORKSPACE_DIR = data / "workspaces"
    yield data


@pytest.fixture
def demo_repo(tmp_path: Path) -> Path:
    from projects.demo import create_demo_repository

    return create_demo_repository(tmp_path / "demo-repo")


@pytest.fixture
def alice(db):  # type: ignore[no-untyped-def]
    from django.contrib.auth.models import User

    return User.objects.create_user("alice", "alice@example.com", "alice-password-1")


@pytest.fixture
def bob(db, team):  # type: ignore[no-untyped-def]
    from django.contrib.auth.models import User

    from accounts.actions import do_add_member

    user = User.objects.create_user("bob", "bob@example.com", "bob-password-1")
    do_add_member(team, None, user, "member")
    return user


@pytest.fixture
def vera(db, team):  # type: ignore[no-untyped-def]
    """A viewer in alice's team."""
    from django.contrib.auth.models import User

    from accounts.actions import do_add_member

    user = User.objects.create_user("vera", "vera@example.com", "vera-password-1")
    do_add_member(team, None, user, "viewer")
    return user


@pytest.fixture
def mallory(db):  # type: ignore[no-untyped-def]
    from django.contrib.auth.models import User

    from accounts.actions import do_create_team

    user = User.objects.create_user("mallory", "mallory@example.com", "mallory-password-1")
    do_create_team(user, "Mallory's team")
    return user


@pytest.fixture
def team(alice):  # type: ignore[no-untyped-def]
    from accounts.actions import do_create_team

    return do_create_team(alice, "Alice's team")


@pytest.fixture
def project(team, alice, demo_repo):  # type: ignore[no-untyped-def]
    from projects.demo import TEST_COMMAND
    from projects.models import Project

    return Project.objects.create(
        team=team, name="demo", repo_url=str(demo_repo), default_branch="main", test_command=TEST_COMMAND, created_by=alice
    )


@pytest.fixture
def intent(project, alice):  # type: ignore[no-untyped-def]
    from intents.actions import do_file_intent
    from intents.models import Intent

    return do_file_intent(
        project,
        alice,
        Intent(title="Fix word_count", description="It miscounts **repeated** spaces.", labels=["bug"]),
        queue=False,
    )


def login(client, user):  # type: ignore[no-untyped-def]
    client.force_login(user)
    return client
