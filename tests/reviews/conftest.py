from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.git_server import GitHTTPServer, bare_copy

REMOTE_USER = "slipway-bot"
REMOTE_TOKEN = "ghp_TESTtoken_4f9a8b7c6d5e"


@pytest.fixture
def model(team):  # type: ignore[no-untyped-def]
    """A model for the team, so that a new round can be queued (no worker runs it in these tests)."""
    from runs.models import ModelConfig

    config = ModelConfig(team=team, name="scripted", base_url="http://127.0.0.1:9/v1", model="scripted")
    config.set_api_key("sk-test-model-key-0123456789")
    config.save()
    team.default_model = config
    team.save()
    return config


@pytest.fixture
def agent_account(team):  # type: ignore[no-untyped-def]
    """An account carrying the agent's identity, even made a member of the team: it still may not decide."""
    from django.contrib.auth.models import User

    from accounts.actions import do_add_member
    from agents.workspace import AGENT_EMAIL

    user = User.objects.create_user("slipway-agent", AGENT_EMAIL, "agent-password-1")
    do_add_member(team, None, user, "maintainer")
    return user


@pytest.fixture
def git_server(tmp_path: Path) -> Iterator[GitHTTPServer]:
    root = tmp_path / "served"
    root.mkdir()
    with GitHTTPServer(root, REMOTE_USER, REMOTE_TOKEN) as server:
        yield server


@pytest.fixture
def remote_repo(git_server: GitHTTPServer, demo_repo: Path) -> Path:
    """A bare copy of the demo repository, served over HTTP with basic auth."""
    return bare_copy(demo_repo, git_server.root, "demo.git")


@pytest.fixture
def remote_project(team, alice, git_server, remote_repo):  # type: ignore[no-untyped-def]
    from projects.demo import TEST_COMMAND
    from projects.models import Project

    project = Project(
        team=team, name="remote demo", repo_url=git_server.url("demo.git"), default_branch="main", test_command=TEST_COMMAND, created_by=alice
    )
    project.set_credentials(REMOTE_USER, REMOTE_TOKEN)
    project.save()
    return project


@pytest.fixture
def remote_intent(remote_project, alice):  # type: ignore[no-untyped-def]
    from intents.actions import do_file_intent
    from intents.models import Intent

    return do_file_intent(remote_project, alice, Intent(title="Fix word_count", description="Repeated spaces."), queue=False)


@pytest.fixture(autouse=True)
def _fast_passwords(settings) -> None:  # type: ignore[no-untyped-def]
    # The personas' passwords are hashed on creation; the slow production hasher only costs time here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
