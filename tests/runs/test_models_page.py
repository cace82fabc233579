"""Team → Models: configuring a model, testing the connection, and keeping the key secret."""

from django.urls import reverse

from accounts.models import AuditEntry
from runs.models import ModelConfig
from tests.conftest import login
from tests.support.model_server import ModelServer
from tests.support.script import http_error, text

KEY = "sk-live-VERY-SECRET-0123456789"


def form(**fields):
    data = {"name": "local", "provider": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "m", "input_price": "1.5",
            "output_price": "3", "context_window": "32000", "tool_mode": "auto", "api_key": KEY}
    data.update(fields)
    return data


def test_a_maintainer_adds_a_model_and_the_key_is_stored_encrypted(client, alice, team):
    response = login(client, alice).post(reverse("model_new"), form(make_default="on"))
    config = ModelConfig.objects.get()
    assert response["Location"] == reverse("model_edit", args=[config.pk])
    assert KEY not in config.api_key_encrypted and config.api_key == KEY
    team.refresh_from_db()
    assert team.default_model == config
    page = client.get(reverse("model_edit", args=[config.pk])).content.decode()
    assert KEY not in page and "6789" in page  # only a hint of the key
    assert KEY not in str(AuditEntry.objects.get(action="model.create").after)


def test_saving_without_a_key_keeps_the_stored_one(client, alice, team):
    c = login(client, alice)
    c.post(reverse("model_new"), form())
    config = ModelConfig.objects.get()
    c.post(reverse("model_edit", args=[config.pk]), form(api_key="", model="other"))
    config.refresh_from_db()
    assert config.api_key == KEY and config.model == "other"


def test_a_member_cannot_configure_models(client, bob, team):
    assert login(client, bob).post(reverse("model_new"), form()).status_code == 403
    assert not ModelConfig.objects.exists()


def test_an_outsider_cannot_see_or_test_a_model(client, mallory, team):
    config = ModelConfig.objects.create(team=team, name="x", base_url="http://127.0.0.1:9/v1", model="m")
    c = login(client, mallory)
    assert c.get(reverse("model_edit", args=[config.pk])).status_code == 404
    assert c.post(reverse("model_test", args=[config.pk])).status_code == 404


def test_testing_the_connection_shows_the_answer(client, alice, team):
    with ModelServer(text("ready")) as server:
        config = ModelConfig(team=team, name="s", base_url=server.openai_base_url, model="scripted")
        config.set_api_key(KEY)
        config.save()
        response = login(client, alice).post(reverse("model_test", args=[config.pk]), HTTP_HX_REQUEST="true")
        body = response.content.decode()
        assert "Connected." in body and "ready" in body
        assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"
        assert KEY not in body


def test_testing_the_connection_shows_the_exact_error(client, alice, team):
    with ModelServer(http_error(401, "invalid api key")) as server:
        config = ModelConfig.objects.create(team=team, name="s", base_url=server.openai_base_url, model="scripted")
        body = login(client, alice).post(reverse("model_test", args=[config.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert "No answer." in body and "401" in body


def test_a_server_that_is_down_says_so(client, alice, team):
    config = ModelConfig.objects.create(team=team, name="s", base_url="http://127.0.0.1:9/v1", model="m")
    body = login(client, alice).post(reverse("model_test", args=[config.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert "No answer." in body
    assert "connect" in body.lower() or "refused" in body.lower()
