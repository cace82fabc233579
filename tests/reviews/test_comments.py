"""Line comments (inline htmx forms, and the same without JavaScript) and general comments."""

from __future__ import annotations

import pytest
from django.urls import reverse

from reviews.models import ReviewComment
from tests.conftest import login
from tests.reviews.changes import change_request_of, fix_word_count

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def cr(intent):  # type: ignore[no-untyped-def]
    fix_word_count(intent)
    return change_request_of(intent)


def test_each_diff_line_offers_an_inline_comment_form(client, bob, cr):
    html = login(client, bob).get(reverse("change_request", args=[cr.pk])).content.decode()
    form_url = reverse("cr_comment_form", args=[cr.pk])
    assert f'hx-get="{form_url}?path=textstats.py&amp;line=8&amp;side=new&amp;view=unified"' in html
    assert f'href="{form_url}?path=textstats.py&amp;line=8&amp;side=old&amp;view=unified"' in html

    form = client.get(form_url, {"path": "textstats.py", "line": "8", "side": "new", "view": "split"}, **HTMX)

    body = form.content.decode()
    assert body.lstrip().startswith('<tr class="comment-row comment-form-row">') and 'colspan="4"' in body
    assert f'hx-post="{reverse("cr_comment", args=[cr.pk])}"' in body and 'name="line" value="8"' in body


def test_without_javascript_the_form_is_a_page_of_its_own(client, bob, cr):
    response = login(client, bob).get(reverse("cr_comment_form", args=[cr.pk]), {"path": "textstats.py", "line": "8"})
    html = response.content.decode()
    assert "<html" in html and "Comment on <code>textstats.py</code>, line 8" in html


def test_a_line_comment_comes_back_as_a_row_and_stays_on_its_line(client, bob, cr):
    response = login(client, bob).post(
        reverse("cr_comment", args=[cr.pk]), {"path": "textstats.py", "line": "8", "side": "new", "body": "Use **split()**", "view": "unified"}, **HTMX
    )

    body = response.content.decode()
    assert body.lstrip().startswith('<tr class="comment-row">') and "<strong>split()</strong>" in body
    comment = ReviewComment.objects.get()
    assert (comment.path, comment.line, comment.side, comment.author, comment.run_id) == ("textstats.py", 8, "new", bob, cr.run_id)
    page = client.get(reverse("change_request", args=[cr.pk])).content.decode()
    diff_part = page.split('id="diff"')[1].split('id="conversation-h"')[0]
    assert f'id="comment-{comment.pk}"' in diff_part


def test_comment_markdown_is_sanitised(client, bob, cr):
    login(client, bob).post(reverse("cr_comment", args=[cr.pk]), {"body": "<script>alert(1)</script> **ok**"})
    page = client.get(reverse("change_request", args=[cr.pk])).content.decode()
    assert "<script>alert(1)" not in page and "<strong>ok</strong>" in page


def test_a_general_comment_redraws_the_conversation(client, bob, cr):
    response = login(client, bob).post(reverse("cr_comment", args=[cr.pk]), {"body": "Thanks!"}, **HTMX)
    body = response.content.decode()
    assert 'id="conversation-block"' in body and "Thanks!" in body and "<html" not in body


def test_a_comment_on_a_file_outside_the_change_is_refused(client, bob, cr):
    response = login(client, bob).post(
        reverse("cr_comment", args=[cr.pk]), {"path": "/etc/passwd", "line": "1", "body": "hm"}, **HTMX
    )
    assert response.status_code == 200 and "not part of this change" in response.content.decode()
    assert not ReviewComment.objects.exists()


def test_an_empty_comment_is_refused(client, bob, cr):
    response = login(client, bob).post(reverse("cr_comment", args=[cr.pk]), {"body": "  "})
    assert response.status_code == 302 and not ReviewComment.objects.exists()


def test_the_agent_cannot_comment(client, agent_account, cr):
    login(client, agent_account).post(reverse("cr_comment", args=[cr.pk]), {"body": "LGTM from me"})
    assert not ReviewComment.objects.exists()
