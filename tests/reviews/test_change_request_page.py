"""The change request page: what a reviewer reads before deciding."""

from __future__ import annotations

import json

from django.urls import reverse

from accounts.models import AuditEntry
from reviews.actions import do_approve
from reviews.models import CRStatus
from tests.conftest import login
from tests.reviews.changes import change_request_of, fix_word_count, propose, textstats

HOSTILE_HTML = '<script>alert("owned")</script>\n<img src=x onerror=alert(1)>\n'


def page(client, cr, **query) -> str:  # type: ignore[no-untyped-def]
    response = client.get(reverse("change_request", args=[cr.pk]), query)
    assert response.status_code == 200
    return response.content.decode()


def test_it_shows_the_summary_tests_reward_files_and_diff(client, bob, intent):
    run = fix_word_count(intent, summary="Split on **any** whitespace.")
    cr = change_request_of(intent)

    html = page(login(client, bob), cr)

    assert "Split on <strong>any</strong> whitespace." in html
    assert "3 passed, 1 failed (exit code 1)" in html and "4 passed, 0 failed" in html
    assert "resolved" in html and "1 newly passing" in html
    assert 'href="#file-0"' in html and "textstats.py" in html and "+1" in html and "−1" in html
    assert 'class="diff unified"' in html and '<tr class="del"' in html and '<tr class="add"' in html
    assert reverse("run_detail", args=[run.pk]) in html and reverse("run_trajectory", args=[run.pk]) in html
    assert "css/review.css" in html


def test_the_split_view_shows_old_and_new_side_by_side(client, bob, intent):
    fix_word_count(intent)
    cr = change_request_of(intent)
    html = page(login(client, bob), cr, view="split")
    assert 'class="diff split"' in html and '<td class="code del">' in html and '<td class="code add">' in html


def test_hostile_file_content_is_escaped_on_the_page(client, bob, intent):
    fix = textstats().replace('"""Small text statistics."""', '"""Small text statistics. <script>alert(1)</script>"""')
    propose(intent, {"textstats.py": fix, "evil.html": HOSTILE_HTML, "<b>odd</b>.txt": "<script>x</script>\n"},
            summary="I did it <script>alert('summary')</script>")  # fmt: skip
    cr = change_request_of(intent)

    for mode in ("unified", "split"):
        html = page(login(client, bob), cr, view=mode)
        assert "<script>alert" not in html and "<script>x" not in html and "<img src=x" not in html
        assert "<b>odd</b>" not in html and "&lt;b&gt;odd&lt;/b&gt;.txt" in html
        assert "onerror" in html  # shown, as text


def test_binary_and_large_files_are_handled(client, bob, intent):
    from reviews.diffs import MAX_FILE_LINES

    big = "".join(f"row {i}\n" for i in range(MAX_FILE_LINES + 10))
    propose(intent, {"textstats.py": textstats(), "logo.png": bytes(range(256)) * 4, "data.txt": big})
    cr = change_request_of(intent)

    html = page(login(client, bob), cr)

    assert "Binary file changed" in html
    assert f"more than the {MAX_FILE_LINES:,} shown" in html and "Show the raw patch" in html
    assert "row 1500" not in html
    raw = client.get(reverse("cr_patch", args=[cr.pk]), {"path": "data.txt"})
    assert raw.status_code == 200 and raw["Content-Type"].startswith("text/plain") and "+row 1500\n" in raw.content.decode()
    assert "logo.png" not in raw.content.decode()


def test_the_raw_patch_is_plain_text(client, bob, intent):
    propose(intent, {"evil.html": HOSTILE_HTML})
    cr = change_request_of(intent)
    raw = login(client, bob).get(reverse("cr_patch", args=[cr.pk]))
    assert raw["Content-Type"] == "text/plain; charset=utf-8" and raw["X-Content-Type-Options"] == "nosniff"
    assert "+<script>" in raw.content.decode()
    assert client.get(reverse("cr_patch", args=[cr.pk]), {"path": "nope.txt"}).status_code == 404


def test_the_trajectory_downloads_as_jsonl(client, bob, intent):
    run = fix_word_count(intent)
    response = login(client, bob).get(reverse("run_trajectory", args=[run.pk]))
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    (line,) = response.content.decode().splitlines()
    assert json.loads(line)["messages"][0]["content"] == "Fix word_count"


def test_best_of_n_attempts_are_shown_side_by_side_and_another_can_be_picked(client, alice, intent, demo_repo):
    intent.attempts = 2
    intent.save()
    first = fix_word_count(intent, attempt=1, finish=False, resolved=False)
    second = propose(intent, {"textstats.py": textstats(), "NOTES.md": "why\n"}, attempt=2)
    cr = change_request_of(intent)
    assert cr.run == second  # the resolved attempt won the ranking
    do_approve(cr, alice)

    html = page(login(client, alice), cr)
    assert "Attempts of round 1" in html and "Attempt 1" in html and "Attempt 2" in html
    assert "Propose this attempt" in html and f"?attempt={first.pk}" in html

    other = page(client, cr, attempt=first.pk)
    assert "You are looking at attempt 1" in other and "NOTES.md" not in other.split("Files changed")[1]

    client.post(reverse("cr_pick_attempt", args=[cr.pk]), {"run": first.pk})

    cr.refresh_from_db()
    assert cr.run == first and cr.head_sha == first.head_sha and cr.branch == first.branch
    assert cr.status == CRStatus.OPEN and cr.approved_by is None  # an approval was for the other attempt
    entry = AuditEntry.objects.get(action="review.pick_attempt")
    assert entry.before["attempt"] == 2 and entry.after["attempt"] == 1 and entry.actor == alice


def test_an_attempt_of_another_intent_cannot_be_picked(client, alice, intent, project):
    from intents.actions import do_file_intent
    from intents.models import Intent

    fix_word_count(intent)
    cr = change_request_of(intent)
    other = do_file_intent(project, alice, Intent(title="Other"), queue=False)
    foreign = fix_word_count(other)
    response = login(client, alice).post(reverse("cr_pick_attempt", args=[cr.pk]), {"run": foreign.pk})
    assert response.status_code == 404
    assert change_request_of(intent).run != foreign


def test_the_intent_page_links_to_the_change(client, bob, intent):
    fix_word_count(intent)
    cr = change_request_of(intent)
    html = login(client, bob).get(reverse("intent_detail", args=[intent.pk])).content.decode()
    assert reverse("change_request", args=[cr.pk]) in html

