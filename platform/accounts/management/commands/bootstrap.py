"""First start: an admin account, a demo team and a demo project. Idempotent."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.actions import do_create_team
from accounts.models import Team
from projects.demo import TEST_COMMAND, create_demo_repository
from projects.models import Project
from runs.models import ModelConfig

CREDENTIALS_FILE = "first-run-credentials.json"


class Command(BaseCommand):
    help = "Create the admin account, a demo team and the demo project when they do not exist."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument("--json", action="store_true", dest="as_json", help="Print the credentials as JSON.")

    def handle(self, *args: Any, username: str, as_json: bool, **options: Any) -> None:
        data_dir = Path(settings.SLIPWAY_DATA_DIR)
        data_dir.mkdir(parents=True, exist_ok=True)
        creds_path = data_dir / CREDENTIALS_FILE
        with transaction.atomic():
            user = User.objects.filter(username=username).first()
            if user is None:
                password = secrets.token_urlsafe(12)
                user = User.objects.create_superuser(username=username, email="", password=password)
                creds_path.write_text(json.dumps({"username": username, "password": password}))
                creds_path.chmod(0o600)
            team = Team.objects.filter(memberships__user=user).order_by("pk").first() or do_create_team(user, "Demo team")
            if not Project.objects.filter(team=team).exists():
                repo = create_demo_repository(data_dir / "demo-repo")
                from agents.git import ls_remote

                head = ls_remote(str(repo), allow_local=True).get("refs/heads/main", "")
                Project.objects.create(
                    team=team,
                    name="demo",
                    repo_url=str(repo),
                    default_branch="main",
                    test_command=TEST_COMMAND,
                    head_sha=head,
                    created_by=user,
                    max_steps=30,
                )
            self._default_model(team)
        creds: dict[str, Any] = {"username": username, "password": None}
        if creds_path.exists():
            stored = _json_loads(creds_path.read_text())
            if user.check_password(stored.get("password", "")):
                creds = stored
        if as_json:
            self.stdout.write(json.dumps(creds))
        elif creds["password"]:
            self.stdout.write(f"Sign in as {creds['username']} / {creds['password']}")
        else:
            self.stdout.write(f"Sign in as {username} (password changed since the first start)")

    def _default_model(self, team: Team) -> None:
        """A model from the environment (SLIPWAY_MODEL_*) for a fresh install."""
        if not settings.SLIPWAY_MODEL_NAME or ModelConfig.objects.filter(team=team).exists():
            return
        config = ModelConfig(
            team=team,
            name=settings.SLIPWAY_MODEL_NAME,
            provider=settings.SLIPWAY_MODEL_PROVIDER,
            base_url=settings.SLIPWAY_MODEL_BASE_URL,
            model=settings.SLIPWAY_MODEL_NAME,
        )
        config.set_api_key(settings.SLIPWAY_MODEL_API_KEY)
        config.save()
        team.default_model = config
        team.save(update_fields=["default_model"])


def _json_loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return {}
