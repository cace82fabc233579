"""Every change request URL: an outsider learns nothing (404), a viewer reads but changes nothing (403)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from reviews.models import ChangeRequest
from tests.conftest import login
from tests.reviews.changes import change_request_of, fix_word_count

READS = ["change_request", "cr_patch", "cr_comment_form"]
WRITES = ["cr_comment", "cr_decide", "cr_merge", "cr_check", "cr_rebase", "cr_pick_attempt", "cr_delete_branch"]


@pytest.fixture
def cr(intent) -> ChangeRequest:  # type: ignore[no-untyped-def]
    fix_word_count(intent)
    return change_request_of(intent)


@pytest.mark.parametrize("name", READS)
def test_an_outsider_gets_404_when_reading(client, mallory, cr, name):
    assert login(client, mallory).get(reverse(name, args=[cr.pk])).status_code == 404


@pytest.mark.parametrize("name", WRITES)
def test_an_outsider_gets_404_when_acting(client, mallory, cr, name):
    response = login(client, mallory).post(reverse(name, args=[cr.pk]), {"decision": "approve", "strategy": "merge", "body": "x", "run": cr.run_id})
    assert response.status_code == 404
    assert ChangeRequest.objects.get(pk=cr.pk).status == "open"


def test_an_outsider_cannot_download_a_trajectory(client, mallory, cr):
    assert login(client, mallory).get(reverse("run_trajectory", args=[cr.run_id])).status_code == 404


def test_an_outsider_cannot_see_a_merge_commit(client, mallory, alice, cr, demo_repo):
    from reviews.actions import do_approve
    from reviews.merging import do_merge

    do_approve(cr, alice)
    do_merge(cr, alice, "merge")
    assert login(client, mallory).get(reverse("cr_commit", args=[cr.pk])).status_code == 404


@pytest.mark.parametrize("name", WRITES)
def test_a_viewer_gets_403_when_acting(client, vera, cr, name):
    response = login(client, vera).post(reverse(name, args=[cr.pk]), {"decision": "approve", "strategy": "merge", "body": "x", "run": cr.run_id})
    assert response.status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(client, cr):
    response = client.get(reverse("change_request", args=[cr.pk]))
    assert response.status_code == 302 and "/login/" in response["Location"]
