"""The dashboard kept current by the operators' event stream, and by polling without it.

While the stream is up the dashboard polls only every 30 s, so anything that shows within
2 s was pushed; without it the dashboard polls every 3 s and retries the stream. Each test
has a server of its own where chats wait in the queue (no auto-assign) and the stream
sends a keep-alive, and so checks its token, every second.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Route, expect

from tests.browser.conftest import SERVER_ENV
from tests.browser.helpers import (
    GIULIA_PASSWORD,
    Dashboard,
    create_operator_api,
    login_api,
    open_page,
    visitor_asks_for_operator,
)
from tests.http_server import RunningServer, serve_process

pytestmark = pytest.mark.browser

LIVE_ENV = {**SERVER_ENV, "LUCINE_AUTO_ASSIGN": "false", "LUCINE_STREAM_KEEPALIVE_SECONDS": "1"}
STREAM = "**/api/operators/stream"
TOKEN_KEY = "lucine.dashboard.token"
PUSHED_MS = 2_000  # far below the 30 s safety poll: only a pushed event is this quick
POLLED_MS = 5_000  # one 3 s poll and the time to draw it


@pytest.fixture
def lucine(browser: Browser) -> Iterator[RunningServer]:
    """A server of this test's own: chats queue, and the stream checks tokens every second."""
    with serve_process(env=LIVE_ENV) as running:
        yield running


def expect_mode(page: Page, mode: str, timeout: float = 10_000) -> None:
    """Wait until the dashboard says it is on the stream or polling."""
    expect(page.locator("html")).to_have_attribute("data-live", mode, timeout=timeout)


def test_chats_notes_and_messages_are_pushed(browser: Browser, lucine: RunningServer) -> None:
    """On the stream, a new queued chat, a note and a message show within 2 s; no console errors.

    The queued chat still sets the title badge and beeps once. A note by another operator
    (over HTTP) and the visitor's next message reach the open conversation with no click.
    """
    with (
        open_page(browser, lucine) as page,
        httpx.Client(base_url=lucine.url, timeout=10) as visitor,
    ):
        console: list[str] = []

        def record(message: ConsoleMessage) -> None:
            if message.type in {"error", "warning"}:
                console.append(f"{message.type}: {message.text}")

        page.on("console", record)
        create_operator_api(lucine, "giulia", "Giulia Rossi")
        dashboard = Dashboard(page)
        with page.expect_response("**/api/operators/pending-chats"):  # the first full refresh
            dashboard.login()
        expect_mode(page, "stream")
        expect(page.locator("#pending-empty")).to_be_visible()

        session_id, outcome = visitor_asks_for_operator(visitor)
        assert outcome["outcome"] == "queued", outcome
        expect(dashboard.chat(session_id, "#pending-list")).to_contain_text("#1", timeout=PUSHED_MS)
        expect(page).to_have_title("(1) Lucine")
        expect(page.locator("html")).to_have_attribute("data-alerts", "1")

        dashboard.open_chat(session_id, "#pending-list")
        expect(dashboard.notes).to_have_count(0)
        note = "Ha già scritto ieri per lo stesso biglietto."
        with login_api(lucine, "giulia", GIULIA_PASSWORD) as giulia:
            added = giulia.post(
                "/api/chat-management/add-note", json={"sessionId": session_id, "content": note}
            )
            assert added.status_code == 201, added.text
        expect(dashboard.notes).to_have_text([note], timeout=PUSHED_MS)
        expect(page.locator("#notes .note-who")).to_have_text(["Giulia Rossi"])

        sent = visitor.post("/api/chat", json={"message": "Ci siete?", "sessionId": session_id})
        assert sent.status_code == 200, sent.text
        expect(page.locator("#messages .msg-user .msg-text").last).to_have_text(
            "Ci siete?", timeout=PUSHED_MS
        )
        expect(page.locator("html")).to_have_attribute("data-alerts", "1")
        expect_mode(page, "stream")
        expect(page.locator("#connection")).to_be_hidden()

        dashboard.logout_button.click()
        expect(dashboard.login_form).to_be_visible()
        assert page.evaluate("document.documentElement.dataset.live") is None
        page.wait_for_timeout(500)  # a late failure of the aborted stream would log by now
        assert console == [], console


def test_polls_while_the_stream_is_blocked_and_goes_back_to_it(
    browser: Browser, lucine: RunningServer
) -> None:
    """Without the stream, the dashboard polls (a new chat shows within ~5 s) and retries it.

    Once the stream answers again the dashboard uses it, and new chats are pushed again.
    """
    with (
        open_page(browser, lucine) as page,
        httpx.Client(base_url=lucine.url, timeout=10) as visitor,
    ):
        attempts: list[str] = []

        def refuse(route: Route) -> None:
            attempts.append(route.request.url)
            route.abort()

        page.route(STREAM, refuse)
        dashboard = Dashboard(page)
        dashboard.login()
        expect_mode(page, "polling")
        for _ in range(60):  # the first retry comes 2 s after the first try
            if len(attempts) >= 2:
                break
            page.wait_for_timeout(100)
        assert len(attempts) >= 2, attempts
        expect_mode(page, "polling")

        first, outcome = visitor_asks_for_operator(visitor)
        assert outcome["outcome"] == "queued", outcome
        expect(dashboard.chat(first, "#pending-list")).to_be_visible(timeout=POLLED_MS)
        expect(page).to_have_title("(1) Lucine")
        expect(page.locator("html")).to_have_attribute("data-alerts", "1")

        page.unroute(STREAM)
        expect_mode(page, "stream", timeout=20_000)  # the next retry, at most 16 s away
        second, _ = visitor_asks_for_operator(visitor)
        expect(dashboard.chat(second, "#pending-list")).to_contain_text("#2", timeout=PUSHED_MS)
        expect(page).to_have_title("(2) Lucine")
        expect(page.locator("html")).to_have_attribute("data-alerts", "2")


def test_logout_elsewhere_ends_the_stream_and_shows_the_login(
    browser: Browser, lucine: RunningServer
) -> None:
    """A logout with the same token from another client sends the dashboard to the login.

    Every new API call is made to fail first, a new stream too, so only the "revoked" event
    on the stream already open can tell the dashboard that its token is no longer valid.
    """
    with open_page(browser, lucine) as page:
        dashboard = Dashboard(page)
        dashboard.login()
        expect_mode(page, "stream")
        token = page.evaluate(f"sessionStorage.getItem('{TOKEN_KEY}')")
        assert isinstance(token, str)
        assert token

        page.route("**/api/**", lambda route: route.abort())
        answer = httpx.post(
            f"{lucine.url}/api/operators/logout",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert answer.status_code in {200, 204}, answer.text

        expect(dashboard.login_form).to_be_visible(timeout=5_000)
        expect(page.locator("#login-notice")).to_contain_text("accedi di nuovo")
        assert page.evaluate(f"sessionStorage.getItem('{TOKEN_KEY}')") is None
        assert page.evaluate("document.documentElement.dataset.live") is None
