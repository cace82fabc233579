"""In Chromium against the real web server: a reviewer takes the agent's change to main of the real
repository, or sends it back with a line comment and sees the next round."""

from __future__ import annotations

import pytest

from reviews.models import CRStatus
from runs.models import AgentRun
from tests.browser.conftest import browser, signed_in, web  # noqa: F401 - fixtures
from tests.reviews.changes import FIXED, change_request_of, fix_word_count, git, propose, textstats

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def watch(page):  # type: ignore[no-untyped-def]
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    return problems


def comment_on_line_8(page) -> None:  # type: ignore[no-untyped-def]
    # The added line: the row says so in the unified view, the cell in the split view.
    page.locator("#diff tr.add td.code, #diff td.code.add", has_text="text.split()").hover()
    page.locator('#diff a.add-comment[href*="side=new"][href*="line=8"]').click()
    form = page.locator("tr.comment-form-row textarea")
    form.fill("Also treat tabs as separators, and say so in the docstring.")
    page.locator("tr.comment-form-row button[type=submit]").click()
    page.locator("#diff tr.comment-row", has_text="Also treat tabs").wait_for()


def test_a_reviewer_comments_approves_and_merges_into_the_real_repository(browser, web, alice, intent, demo_repo):  # noqa: F811
    fix_word_count(intent)
    cr = change_request_of(intent)
    page = signed_in(browser, web, alice)
    problems = watch(page)

    page.goto(f"/changes/{cr.pk}/")
    comment_on_line_8(page)
    assert page.locator("tr.comment-form-row").count() == 0  # the form row became the comment
    page.get_by_role("button", name="Approve").click()
    page.get_by_label("Strategy").select_option("squash")
    page.get_by_role("button", name="Merge into main").click()

    page.get_by_text("Merged into main as").wait_for()
    cr.refresh_from_db()
    assert cr.status == CRStatus.MERGED and cr.merge_strategy == "squash"
    assert git(demo_repo, "rev-parse", "main") == cr.merge_commit
    assert FIXED in (demo_repo / "textstats.py").read_text()
    page.get_by_role("link", name=cr.merge_commit[:10]).click()
    page.get_by_text("What it brought into main").wait_for()
    assert problems == []


def test_a_reviewer_sends_the_change_back_and_sees_the_next_round(browser, web, alice, intent, model):  # noqa: F811
    fix_word_count(intent)
    cr = change_request_of(intent)
    page = signed_in(browser, web, alice)
    problems = watch(page)

    page.goto(f"/changes/{cr.pk}/?view=split")
    comment_on_line_8(page)
    page.get_by_role("button", name="Request changes (1 comment)").click()

    page.get_by_text("An agent is working on round 2").wait_for()
    run = AgentRun.objects.get(intent=intent, round=2)
    assert run.feedback[0]["file"] == "textstats.py" and run.feedback[0]["line"] == 8
    propose(intent, {"textstats.py": textstats().replace("any whitespace", "any whitespace, tabs included")}, run=run, summary="Tabs documented.")

    page.reload()
    page.get_by_text("Tabs documented.").wait_for()
    assert page.locator(".rounds li", has_text="Round 2").count() == 1
    assert page.locator("#conversation", has_text="Also treat tabs").count() == 1
    assert problems == []
