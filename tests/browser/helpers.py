"""Page objects and helpers the browser tests share: the widget, the dashboard, their pages.

The widget and the dashboard are found the way assistive technology finds them (role,
name, label) wherever their markup allows it, and by the ids the markup promises
elsewhere.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from playwright.sync_api import Browser, Locator, Page, Route, expect

from tests.http_server import ADMIN_PASSWORD, ADMIN_USERNAME, RunningServer

__all__ = [
    "GIULIA_PASSWORD",
    "NO",
    "YES",
    "Dashboard",
    "Widget",
    "create_operator_api",
    "login_api",
    "open_page",
    "visitor_asks_for_operator",
    "wait_until",
    "without_csp",
]


def wait_until(page: Page, script: str, *, timeout: float = 10.0) -> Any:
    """Evaluate ``script`` in the page until it is truthy; return that value.

    Not ``page.wait_for_function``: when its first check is false, Playwright polls with
    a function made by eval, which the pages' CSP (script-src 'self') refuses, so the
    wait failed whenever the condition was not already true (about one run in ten for
    the phone panel's animation). ``page.evaluate`` goes through the DevTools protocol,
    which CSP does not govern.
    """
    deadline = time.monotonic() + timeout
    while not (value := page.evaluate(script)):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {script}")
        page.wait_for_timeout(25)
    return value


YES = "SÌ, CHIAMA OPERATORE"
NO = "NO, CONTINUA CON AI"
GIULIA_PASSWORD = "una passphrase abbastanza lunga"
SESSION_ID_JS = """() => {
  const key = Object.keys(localStorage).find((k) => k.startsWith("lucine-chat:"));
  return key ? JSON.parse(localStorage.getItem(key)).sessionId : null;
}"""


class Widget:
    """The widget on a page, found the way assistive technology finds it: by role and name."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.launcher = page.get_by_role("button", name="Apri la chat")
        self.panel = page.get_by_role("dialog", name="Lucine di Natale")
        self.input = page.get_by_role("textbox", name="Il tuo messaggio")
        self.log = page.locator(".lucine-chat__log")

    def open(self, url: str = "/demo") -> None:
        """Load the demo page and open the chat."""
        self.page.goto(url)
        self.launcher.click()
        expect(self.input).to_be_focused()

    def replies(self) -> Locator:
        """The assistant's answers (the greeting has no seq: it never came from the server)."""
        return self.log.locator(".lucine-chat__msg--bot[data-seq] .lucine-chat__bubble")

    def visitor(self) -> Locator:
        """The visitor's messages."""
        return self.log.locator(".lucine-chat__msg--user .lucine-chat__bubble")

    def ask(self, text: str) -> None:
        """Type ``text``, press Enter, and wait for the assistant's answer."""
        before = self.replies().count()
        self.input.fill(text)
        self.input.press("Enter")
        expect(self.replies()).to_have_count(before + 1)
        # The server numbered the visitor's message too: no bubble is left "sending".
        expect(self.log.locator(".lucine-chat__msg--pending")).to_have_count(0)

    def session_id(self) -> str:
        """The chat's id as the widget stored it."""
        value = self.page.evaluate(SESSION_ID_JS)
        assert isinstance(value, str), value
        return value


def without_csp(route: Route) -> None:
    """Serve the page without its Content-Security-Policy, like many shops' pages.

    Then only the page's own code stands between markup in the data and a script running.
    """
    response = route.fetch()
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-security-policy"}
    route.fulfill(response=response, headers=headers)


@contextmanager
def open_page(
    browser: Browser,
    server: RunningServer,
    viewport: tuple[int, int] = (1440, 900),
) -> Iterator[Page]:
    """A desktop page in a context of its own; script errors, CSP reports and dialogs fail."""
    width, height = viewport
    context = browser.new_context(
        base_url=server.url,
        viewport={"width": width, "height": height},
        locale="it-IT",
        timezone_id="Europe/Rome",
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda message: (
            problems.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.on(
        "dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss())
    )
    try:
        yield page
    finally:
        context.close()
    assert not problems, problems


class Dashboard:
    """The dashboard on a page, found by role, label and the ids its markup promises."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.login_form = page.locator("#login-form")
        self.logout_button = page.get_by_role("button", name="Esci")
        self.pending = page.locator("#pending-list .chat-item")
        self.active = page.locator("#active-list .chat-item")
        self.messages = page.locator("#messages .msg")
        self.notes = page.locator("#notes .note-text")
        self.status = page.locator("#conv-status")
        self.meta = page.locator("#conv-meta")
        self.reply = page.get_by_label("Risposta al cliente")
        self.toast = page.locator("#toast")

    def login(self, username: str = ADMIN_USERNAME, password: str = ADMIN_PASSWORD) -> None:
        """Open /dashboard and log in."""
        self.page.goto("/dashboard")
        self.login_form.get_by_label("Nome utente").fill(username)
        self.login_form.get_by_label("Password").fill(password)
        self.login_form.get_by_role("button", name="Accedi").click()
        expect(self.logout_button).to_be_visible()

    def availability(self, name: str) -> None:
        """Press Online, Assente or Offline and wait until the server confirmed it."""
        switch = self.page.get_by_role("radio", name=name)
        switch.click()
        expect(switch).to_have_attribute("aria-checked", "true")

    def tab(self, name: str) -> None:
        """Go to a section of the dashboard."""
        self.page.get_by_role("navigation", name="Sezioni").get_by_role("button", name=name).click()

    def chat(self, session_id: str, where: str = "#active-list") -> Locator:
        """A chat's row in a list."""
        return self.page.locator(f"{where} .chat-item[data-session='{session_id}']")

    def open_chat(self, session_id: str, where: str = "#active-list") -> None:
        """Open a chat from a list; its messages load."""
        self.chat(session_id, where).locator(".chat-open").click()
        expect(self.page.locator("#conv-title")).to_have_attribute("title", session_id)

    def send(self, text: str) -> None:
        """Write a reply and press Enter."""
        self.reply.fill(text)
        self.reply.press("Enter")
        expect(self.page.locator("#messages .msg-operator .msg-text").last).to_have_text(text)

    def add_note(self, text: str) -> None:
        """Write an internal note."""
        self.page.get_by_label("Nuova nota").fill(text)
        self.page.get_by_role("button", name="Aggiungi nota").click()
        expect(self.notes.last).to_have_text(text)

    def close_chat(self, outcome: str) -> None:
        """Close the open chat as Risolta, Non risolta or Annullata."""
        form = self.page.locator("#status-form")
        form.get_by_label("Esito").select_option(label=outcome)
        form.get_by_role("button", name="Chiudi la chat").click()
        expect(self.status).to_have_text(outcome)

    def stat(self, key: str) -> Locator:
        """The big number of one card in the stats view."""
        return self.page.locator(f"[data-stat='{key}'] .stat-value")


@contextmanager
def login_api(server: RunningServer, username: str, password: str) -> Iterator[httpx.Client]:
    """An HTTP client logged in as an operator (which puts them ONLINE); closed afterwards."""
    with httpx.Client(base_url=server.url, timeout=10) as client:
        answer = client.post(
            "/api/operators/login", json={"username": username, "password": password}
        )
        assert answer.status_code == 200, answer.text
        client.headers["Authorization"] = f"Bearer {answer.json()['token']}"
        yield client


def create_operator_api(server: RunningServer, username: str, display_name: str) -> None:
    """The admin creates a plain operator account (password GIULIA_PASSWORD) over HTTP."""
    with login_api(server, ADMIN_USERNAME, ADMIN_PASSWORD) as admin:
        created = admin.post(
            "/api/admin/operators",
            json={"username": username, "displayName": display_name, "password": GIULIA_PASSWORD},
        )
        assert created.status_code == 201, created.text


def visitor_asks_for_operator(client: httpx.Client) -> tuple[str, dict[str, Any]]:
    """A new chat whose visitor presses "SÌ, CHIAMA OPERATORE"; its id and the outcome."""
    chat = client.post("/api/chat", json={"message": "voglio un operatore"})
    assert chat.status_code == 200, chat.text
    session_id = chat.json()["sessionId"]
    action = client.post(
        "/api/chat/action", json={"sessionId": session_id, "action": "request_operator"}
    )
    assert action.status_code == 200, action.text
    return session_id, action.json()
