"""A real `lucine serve`, a system Chromium driven by Playwright, and one page per test.

Chromium comes from the system (``apt-get install chromium``; ``LUCINE_CHROMIUM`` names
another binary): ``playwright install`` needs a download these machines may not have.
Without it the browser tests skip with one line; under CI=true they fail instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.http_server import RunningServer, serve_process

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page

CHROMIUM = os.environ.get("LUCINE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
# The widget's tests send more than a visitor would: lift the per-client limits.
SERVER_ENV = {"LUCINE_CHAT_LIMIT_PER_MINUTE": "1000", "LUCINE_NEW_SESSIONS_PER_HOUR": "1000"}


def _browser_missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401, PLC0415 - only to learn whether it is there
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    if not Path(CHROMIUM).is_file():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set LUCINE_CHROMIUM)"
    return None


def require_browser() -> None:
    """Skip (or, under CI=true, fail) when Playwright or Chromium is missing."""
    reason = _browser_missing()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Chromium, headless, for the whole run."""
    require_browser()
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - after the check above

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def server(browser: Browser) -> Iterator[RunningServer]:
    """`lucine serve` on SQLite with the sample knowledge base; nobody online by default."""
    with serve_process(env=SERVER_ENV) as running:
        yield running


@pytest.fixture
def page(browser: Browser, server: RunningServer) -> Iterator[Page]:
    """A fresh desktop page (own storage) on the server; fails the test on script errors."""
    context = browser.new_context(
        base_url=server.url, viewport={"width": 1280, "height": 800}, locale="it-IT"
    )
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))

    def console(message: ConsoleMessage) -> None:
        # A CSP violation (an inline style or script slipping in) is only a console message.
        if "Content Security Policy" in message.text:
            errors.append(message.text)

    tab.on("console", console)
    yield tab
    context.close()
    assert not errors, errors


def screenshot(page: Page, name: str) -> Path:
    """Save a screenshot of the viewport under artifacts/screenshots."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
