"""The admin lists every model of the domain, and never shows a stored secret."""

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from runs.models import ModelConfig


@pytest.fixture
def staff(client, db):
    user = User.objects.create_superuser("root", "root@example.com", "root-password-1")
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    "model",
    ["accounts.team", "accounts.membership", "accounts.auditentry", "projects.project", "intents.intent",
     "runs.modelconfig", "runs.agentrun", "runs.runevent", "runs.worker", "reviews.changerequest", "reviews.reviewcomment"],
)
def test_each_model_has_an_admin_list(staff, model):
    app, name = model.split(".")
    assert staff.get(reverse(f"admin:{app}_{name}_changelist")).status_code == 200


def test_the_admin_never_shows_a_model_api_key(staff, team):
    config = ModelConfig(team=team, name="m", model="m")
    config.set_api_key("sk-admin-SECRET-0123456789")
    config.save()
    page = staff.get(reverse("admin:runs_modelconfig_change", args=[config.pk])).content.decode()
    assert "sk-admin-SECRET" not in page and config.api_key_encrypted not in page
