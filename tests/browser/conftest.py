"""Browser tests: Debian's Chromium driven by Playwright, against a real web server and worker.

Never ``playwright install``: the browser is the system's (/usr/bin/chromium).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        # A missing browser is a broken machine, not a reason to skip: CI installs it (scripts/provision.sh --ci).
        pytest.fail(f"no Chromium at {CHROMIUM}: install Debian's chromium package (scripts/provision.sh --ci)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread, and Django then refuses
    # database calls from it; the test's own calls are plain synchronous ones, so allow them.
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if before is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture
def web(transactional_db, _data_dir: Path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The platform's ASGI app under uvicorn, on the test database: its base URL."""
    from tests.support.platform import web_server

    with web_server(_data_dir) as url:
        yield url


def signed_in(browser: Any, web: str, user: Any) -> Any:
    """A fresh browser tab signed in as ``user`` (a session made the way the login view makes one)."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    context = browser.new_context(base_url=web)
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": web}])
    return context.new_page()
