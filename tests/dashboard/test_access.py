"""Who sees what: a team's dashboard shows that team only; rankings are for maintainers."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.actions import do_add_member
from dashboard.report import EXPORTS
from runs.models import AgentRun, ModelConfig
from tests.conftest import login


@pytest.fixture
def alices_work(team, project, intent, alice):
    model = ModelConfig.objects.create(team=team, name="alices-model", base_url="http://127.0.0.1:9/v1", model="m")
    AgentRun.objects.create(intent=intent, team=team, project=project, model=model, status="running", worker="h:1")
    return model


def test_an_outsider_sees_only_her_own_team(client, mallory, alices_work, project):
    body = login(client, mallory).get(reverse("dashboard")).content.decode()
    assert "Mallory&#x27;s team" in body
    for secret in ("Alice", "Fix word_count", "alices-model", "alice"):
        assert secret not in body


def test_an_outsider_cannot_point_the_filters_at_another_team(client, mallory, alices_work, project):
    c = login(client, mallory)
    body = c.get(reverse("dashboard"), {"project": project.pk, "model": alices_work.pk, "requester": "alice"}).content.decode()
    assert "Fix word_count" not in body and "alices-model" not in body
    live = c.get(reverse("dashboard_live"), {"project": project.pk}).content.decode()
    assert 'id="card-running"' in live
    assert 'data-value="0"' in live.split('id="card-running"')[1].split("</div>")[1]


def test_no_export_carries_another_teams_rows(client, mallory, alices_work, project):
    from accounts.models import Membership

    Membership.objects.filter(user=mallory).update(role="owner")
    c = login(client, mallory)
    for name in sorted(EXPORTS):
        response = c.get(reverse("dashboard_export", args=[name]), {"project": project.pk, "period": "90"})
        assert response.status_code == 200, name
        body = response.content.decode()
        assert "Fix word_count" not in body and "alices-model" not in body and "alice" not in body, name


def test_the_live_block_needs_a_sign_in(client, alices_work):
    for name in ("dashboard", "dashboard_live", "dashboard_definitions"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    response = client.get(reverse("dashboard_export", args=["queue"]))
    assert response.status_code == 302


def test_a_teammate_sees_the_teams_figures_but_no_rankings(client, bob, alices_work):
    body = login(client, bob).get(reverse("dashboard")).content.decode()
    assert 'id="card-running"' in body
    assert "Requesters" not in body and "Reviewers" not in body
    assert login(client, bob).get(reverse("dashboard_export", args=["ranking_requesters"])).status_code == 403


def test_a_maintainer_sees_the_rankings(client, team, bob, alices_work):
    from accounts.models import Membership

    Membership.objects.filter(team=team, user=bob).update(role="maintainer")
    c = login(client, bob)
    body = c.get(reverse("dashboard")).content.decode()
    assert "Requesters" in body and "Reviewers" in body
    assert c.get(reverse("dashboard_export", args=["ranking_reviewers"])).status_code == 200


def test_an_unknown_export_is_not_found(client, alice, team):
    assert login(client, alice).get(reverse("dashboard_export", args=["secrets"])).status_code == 404


def test_someone_in_two_teams_sees_the_team_they_chose(client, alice, mallory, team, alices_work):
    from accounts.models import Team

    do_add_member(Team.objects.get(name="Mallory's team"), None, alice, "member")
    c = login(client, alice)
    assert "Alice&#x27;s team" in c.get(reverse("dashboard")).content.decode()
    c.post(reverse("team_switch"), {"team": Team.objects.get(name="Mallory's team").pk})
    body = c.get(reverse("dashboard")).content.decode()
    assert "Mallory&#x27;s team" in body and "alices-model" not in body
