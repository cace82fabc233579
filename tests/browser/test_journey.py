"""A new user's whole journey, in Chromium, against the platform started the way the README starts it.

`scripts/run.py` (what `make run` runs) starts on a database of its own: it migrates,
creates the admin account and the demo project, and runs uvicorn, the Celery workers and
beat. The only stand-in is the model: the scripted server, which fixes the bug in round 1
and answers the review comment in round 2. Screenshots of every step go to
artifacts/journey/ (CI keeps them); the key ones are copied to docs/screenshots/ when
SLIPWAY_UPDATE_SCREENSHOTS=1.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from psycopg import sql

from tests.browser.conftest import browser  # noqa: F401 - fixture
from tests.support.model_server import ModelServer
from tests.support.platform import ROOT, free_port, wait_for
from tests.support.script import Dynamic, RecordedRequest, Step, submit, text, tool

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(900)]

ARTIFACTS = ROOT / "artifacts" / "journey"
SCREENSHOTS = ROOT / "docs" / "screenshots"
KEY_SHOTS = {"01-first-page", "04-intent-form", "06-run-live", "07-change-request", "10-merged", "11-dashboard"}
REVIEW_NOTE = "Please document that tabs and newlines separate words too."

CALC = '''"""A tiny calculator."""


def add(a, b):
    return a - b


def mul(a, b):
    return a * b
'''
TESTS = '''from calc import add, mul


def test_add():
    assert add(2, 3) == 5


def test_mul():
    assert mul(2, 3) == 6
'''


def git(repo: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "Dana", "GIT_AUTHOR_EMAIL": "dana@example.com", "GIT_COMMITTER_NAME": "Dana",
           "GIT_COMMITTER_EMAIL": "dana@example.com", "HOME": str(repo), "PATH": os.environ["PATH"]}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout.strip()


def make_repository(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "calc.py").write_text(CALC)
    (path / "test_calc.py").write_text(TESTS)
    (path / "conftest.py").write_text("import sys, pathlib\nsys.path.insert(0, str(pathlib.Path(__file__).parent))\n")
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "calc: add and mul")
    return path


def calc_agent(request: RecordedRequest) -> Step:
    """Round 1 fixes add(); round 2 answers the reviewer's comment with a docstring."""
    shown = request.text
    turns = sum(1 for m in request.messages if m.get("role") == "assistant")
    if "document that tabs" in shown or REVIEW_NOTE[:30] in shown:
        script = [
            text("1. Add the docstring the reviewer asked for.\n2. Run the tests.\n3. Submit."),
            tool("edit_file", path="calc.py", old_text="def add(a, b):\n", new_text='def add(a, b):\n    """The sum of a and b."""\n'),
            tool("run_tests"),
            submit("Documented add() as the reviewer asked."),
        ]
    else:
        script = [
            text("1. Read calc.py.\n2. Make add() add.\n3. Run the tests.\n4. Submit."),
            tool("view_file", path="calc.py"),
            tool("edit_file", path="calc.py", old_text="return a - b", new_text="return a + b"),
            tool("run_tests"),
            submit("add() subtracted; it now adds, and test_add passes."),
        ]
    return script[min(turns, len(script) - 1)]


class Platform:
    def __init__(self, url: str, username: str, password: str, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.url, self.username, self.password, self.proc, self.log = url, username, password, proc, log


@pytest.fixture
def started(tmp_path: Path) -> Iterator[Platform]:
    """`make run`'s script on a fresh database, Redis database and data directory."""
    db = f"slipway_journey_{os.getpid()}"
    admin = "postgres://postgres@127.0.0.1:5432/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db)))
    redis_url = "redis://127.0.0.1:6379/9"
    redis.Redis.from_url(redis_url).flushdb()
    port = free_port()
    log = tmp_path / "make-run.log"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SLIPWAY_", "DJANGO_"))},
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{db}",
        "REDIS_URL": redis_url,
        "PORT": str(port),
        "SLIPWAY_DATA_DIR": str(tmp_path / "var"),
        "SLIPWAY_WORKER_CONCURRENCY": "2",
        "SLIPWAY_HEARTBEAT_SECONDS": "2",
        "PYTHONUNBUFFERED": "1",
    }
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "run.py")], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        banner = wait_for(
            lambda: re.search(r"running at (\S+)\n\s+Sign in as (\S+) / (\S+)\n\s+Health: \S+ \((\w+)\)", log.read_text()),
            timeout=180, interval=0.3, what="make run's banner", log=log,
        )
        assert banner.group(4) == "ok", "the platform was healthy when make run said where to open it"
        yield Platform(banner.group(1).rstrip("/"), banner.group(2), banner.group(3), proc, log)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # what Ctrl-C does
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db)))


class Journey:
    def __init__(self, page: Any) -> None:
        self.page = page
        self.problems: list[str] = []
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("console", lambda m: self.problems.append(m.text) if m.type == "error" else None)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def shot(self, name: str) -> None:
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        if name in KEY_SHOTS and os.environ.get("SLIPWAY_UPDATE_SCREENSHOTS") == "1":
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, SCREENSHOTS / path.name)


def test_a_new_user_takes_an_intent_from_filing_to_merge(browser, started: Platform, tmp_path: Path):  # noqa: F811
    repo = make_repository(tmp_path / "calc")
    with ModelServer(*[Dynamic(calc_agent)] * 200) as model:
        context = browser.new_context(base_url=started.url, viewport={"width": 1360, "height": 900})
        page = context.new_page()
        journey = Journey(page)
        try:
            walk(journey, page, started, model, repo, tmp_path)
        except BaseException:
            journey.shot("zz-failure")
            raise
        assert journey.problems == [], journey.problems
        context.close()


def walk(journey: Journey, page: Any, started: Platform, model: ModelServer, repo: Path, tmp_path: Path) -> None:
    if True:

        # Sign in with what `make run` printed; the first page says what to do next.
        page.goto("/")
        page.get_by_label("Username").fill(started.username)
        page.get_by_label("Password").fill(started.password)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_text("Getting started").wait_for()
        assert page.get_by_text("No model is configured yet").is_visible()
        journey.shot("01-first-page")

        # Link the repository the test made (a real failing test in it).
        page.goto("/projects/new/")
        page.get_by_label("Name", exact=True).fill("calc")
        page.get_by_label("Repository URL").fill(str(repo))
        page.get_by_label("Test command").fill("python3 -m pytest -q")
        journey.shot("02-link-repository")
        page.get_by_role("button", name="Check and link").click()
        page.get_by_text("Linked calc at main").wait_for()

        # Configure the model: the scripted server, tested from the page.
        page.goto("/team/models/new/")
        page.get_by_label("Name", exact=True).fill("scripted")
        page.get_by_label("Base URL").fill(model.openai_base_url)
        page.get_by_label("Model", exact=True).fill("scripted")
        page.get_by_label("API key").fill("sk-journey-0123456789abcdef")
        page.get_by_label("Use for the team's intents by default").check()
        page.get_by_role("button", name="Save").click()
        page.get_by_text("Model scripted saved").wait_for()
        journey.shot("03-model")

        # File the intent.
        page.goto("/projects/")
        page.get_by_role("link", name="calc").click()
        page.get_by_role("link", name="File an intent").first.click()
        page.get_by_label("Title").fill("Fix add()")
        page.get_by_label("What you want").fill("`add(2, 3)` returns **-1**. It should add.")
        page.get_by_label("How you will know it is done").fill("`test_add` passes and nothing else breaks.")
        page.get_by_role("button", name="Preview description").click()
        page.locator("#preview strong", has_text="-1").wait_for()
        journey.shot("04-intent-form")
        page.get_by_role("button", name="File and start agent").click()
        page.get_by_text("Intent filed and queued.").wait_for()
        journey.shot("05-intent")

        # Watch the run stream live to its end.
        page.get_by_role("link", name=re.compile(r"^Run \d+")).first.click()
        page.locator("#timeline").get_by_text("view_file").first.wait_for(timeout=60_000)
        journey.shot("06-run-live")
        page.get_by_role("link", name="Review the change").wait_for(timeout=90_000)
        journey.shot("06b-run-done")

        # The change request: comment on a line, and send it back.
        page.get_by_role("link", name="Review the change").click()
        page.get_by_text("return a + b").first.wait_for()
        journey.shot("07-change-request")
        page.locator("#diff tr.add td.code, #diff td.code.add", has_text="return a + b").first.hover()
        page.locator('#diff a.add-comment[href*="side=new"]').first.click()
        page.locator("tr.comment-form-row textarea").fill(REVIEW_NOTE)
        page.locator("tr.comment-form-row button[type=submit]").click()
        page.locator("#diff tr.comment-row", has_text="document that tabs").wait_for()
        page.get_by_role("button", name=re.compile(r"Request changes")).click()
        page.get_by_text("An agent is working on round 2").wait_for()
        journey.shot("08-round-two-running")

        # Round 2 comes back: approve and merge into the real repository.
        wait_for(lambda: (page.reload(), page.get_by_text("Documented add()").count())[1], timeout=120, interval=1,
                 what="round 2 on the change request", log=started.log)
        journey.shot("09-round-two")
        page.get_by_role("button", name="Approve").click()
        page.get_by_role("button", name=re.compile(r"^Merge into main")).click()
        page.get_by_text("Merged into main as").wait_for()
        journey.shot("10-merged")

        # The repository's main holds the fix, and its tests pass there.
        calc = git(repo, "show", "main:calc.py")
        assert "return a + b" in calc and "The sum of a and b." in calc
        checkout = tmp_path / "check"
        subprocess.run(["git", "clone", "-q", str(repo), str(checkout)], check=True)
        tests = subprocess.run(["python3", "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=checkout,
                               capture_output=True, text=True)
        assert tests.returncode == 0, tests.stdout + tests.stderr

        # The dashboard counts it.
        page.goto("/dashboard/")
        page.locator(".metric", has_text="Merged").first.wait_for()
        merged_card = page.locator(".metric", has_text="Merged").first.inner_text()
        assert re.search(r"\b1\b", merged_card), merged_card
        journey.shot("11-dashboard")
