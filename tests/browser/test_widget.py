"""The chat widget as a visitor meets it: on the demo shop page, in Chromium, over real HTTP."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Dialog, Page, Route, expect

from lucine_core.errors import ExternalServiceError
from lucine_http.errors import lucine_error
from tests.browser.conftest import SERVER_ENV, screenshot
from tests.browser.helpers import NO, SESSION_ID_JS, YES, Widget, wait_until, without_csp
from tests.http_server import ADMIN_PASSWORD, ADMIN_USERNAME, RunningServer, serve_process

pytestmark = pytest.mark.browser


@contextmanager
def operator_online(server: RunningServer) -> Iterator[httpx.Client]:
    """The admin logged in (and so ONLINE); logged out again afterwards, nobody online."""
    with httpx.Client(base_url=server.url, timeout=10) as client:
        login = client.post(
            "/api/operators/login", json={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD}
        )
        assert login.status_code == 200, login.text
        client.headers["Authorization"] = f"Bearer {login.json()['token']}"
        try:
            yield client
        finally:
            client.post("/api/operators/logout")


def call(client: httpx.Client, path: str, body: dict[str, Any]) -> Any:
    """POST ``body`` as the operator; the JSON answer."""
    response = client.post(path, json=body)
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


def test_answer_shows_its_source(page: Page) -> None:
    """A question about opening hours gets the hours with the hint "Fonte: orari"."""
    widget = Widget(page)
    widget.open()
    widget.ask("a che ora aprite?")
    answer = widget.log.locator(".lucine-chat__msg--bot[data-seq]").last
    expect(answer).to_contain_text("17:30")
    expect(answer.locator(".lucine-chat__source")).to_have_text("Fonte: orari")
    expect(widget.visitor()).to_have_text(["a che ora aprite?"])
    screenshot(page, "desktop-answer")


def test_nobody_online_offers_a_ticket_and_confirms_it(page: Page) -> None:
    """Asking for a human shows the two buttons; with nobody online YES opens the ticket form."""
    widget = Widget(page)
    widget.open()
    widget.ask("quanto costa il biglietto?")
    widget.ask("voglio parlare con un operatore")
    yes = page.get_by_role("button", name=YES)
    expect(yes).to_be_visible()
    expect(page.get_by_role("button", name=NO)).to_be_visible()
    screenshot(page, "desktop-actions")
    yes.click()
    form = page.get_by_role("form", name="Lasciaci un messaggio")
    expect(form).to_be_visible()
    expect(yes).to_have_count(0)
    form.get_by_role("button", name="Invia richiesta").click()
    expect(form.get_by_role("alert")).to_have_text("Inserisci un'email o un numero di telefono.")
    form.get_by_label("Email", exact=True).fill("visitatore@example.com")
    form.get_by_label("Messaggio", exact=True).fill("Posso cambiare la data del biglietto?")
    screenshot(page, "desktop-ticket-form")
    form.get_by_role("button", name="Invia richiesta").click()
    confirmation = widget.log.locator(".lucine-chat__msg--ticket_confirmation")
    expect(confirmation).to_contain_text("Abbiamo registrato la tua richiesta")
    expect(confirmation).to_contain_text("visitatore@example.com")
    expect(form).to_have_count(0)
    screenshot(page, "desktop-ticket-sent")

    page.reload()
    expect(widget.panel).to_be_visible()  # it was open: it opens again on desktop
    expect(confirmation).to_have_count(1)
    expect(page.get_by_role("form", name="Lasciaci un messaggio")).to_have_count(0)


def test_the_next_message_goes_while_the_widget_catches_up(page: Page) -> None:
    """A message sent as soon as the answer shows is not lost to the catch-up poll.

    Polls are held unanswered here, so the widget is still catching up when the visitor
    writes again; the second message must be sent and answered all the same.
    """
    held: list[Route] = []

    def hold(route: Route) -> None:
        held.append(route)  # never answered: the poll stays pending

    page.route("**/api/chat/poll/**", hold)
    widget = Widget(page)
    widget.open()
    for count, text in enumerate(("a che ora aprite?", "posso portare il cane?"), 1):
        widget.input.fill(text)
        widget.input.press("Enter")
        expect(widget.replies()).to_have_count(count)
    expect(widget.input).to_have_value("")


def test_reload_brings_the_conversation_back(page: Page) -> None:
    """After a reload the same chat is rebuilt from the server, in order, without duplicates."""
    widget = Widget(page)
    widget.open()
    widget.ask("a che ora aprite?")
    widget.ask("posso portare il cane?")
    session_id = widget.session_id()
    before = widget.log.locator(".lucine-chat__bubble").all_inner_texts()

    page.reload()
    expect(widget.panel).to_be_visible()
    expect(widget.log.locator(".lucine-chat__bubble")).to_have_text(before)
    assert widget.session_id() == session_id

    widget.ask("e il parcheggio?")  # the rebuilt chat carries on in the same session
    assert widget.session_id() == session_id
    expect(widget.visitor()).to_have_text(
        ["a che ora aprite?", "posso portare il cane?", "e il parcheggio?"]
    )


def test_phone_panel_fills_the_screen(browser: Browser, server: RunningServer) -> None:
    """At 360x740 the open panel covers the screen exactly and nothing scrolls sideways."""
    context = browser.new_context(
        base_url=server.url,
        viewport={"width": 360, "height": 740},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="it-IT",
    )
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        widget = Widget(page)
        page.goto("/demo")
        expect(widget.launcher).to_be_visible()
        screenshot(page, "phone-page")
        widget.launcher.tap()
        widget.ask("quanto costa il biglietto?")
        widget.ask("voglio parlare con un operatore")
        # The panel slides in for 0.18 s; two quick answers can come sooner than that.
        wait_until(page, "!document.querySelector('.lucine-chat__panel').getAnimations().length")
        box = widget.panel.bounding_box()
        assert box == {"x": 0, "y": 0, "width": 360, "height": 740}
        sizes = page.evaluate("""() => {
            const log = document.querySelector(".lucine-chat__log");
            return [document.documentElement.scrollWidth, innerWidth,
                    log.scrollWidth, log.clientWidth];
        }""")
        assert sizes[0] <= sizes[1], sizes
        assert sizes[2] <= sizes[3], sizes
        for control in (widget.input, page.get_by_role("button", name="Chiudi la chat")):
            control_box = control.bounding_box()
            assert control_box is not None
            assert control_box["x"] >= 0
            assert control_box["x"] + control_box["width"] <= 360
        screenshot(page, "phone-chat")
        page.get_by_role("button", name="Chiudi la chat").tap()
        expect(widget.panel).to_be_hidden()
        expect(widget.launcher).to_be_visible()
    finally:
        context.close()


def test_keyboard_only(page: Page) -> None:
    """Tab reaches the launcher, Enter opens, Enter sends, Escape closes and gives focus back."""
    widget = Widget(page)
    page.goto("/demo")
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.matches('.lucine-chat__launcher')"):
            break
    expect(widget.launcher).to_be_focused()
    page.keyboard.press("Enter")
    expect(widget.panel).to_be_visible()
    expect(widget.input).to_be_focused()
    page.keyboard.type("quanto costa il biglietto?")
    page.keyboard.press("Enter")
    expect(widget.replies()).to_have_count(1)
    expect(widget.replies().first).to_contain_text("12 €")
    expect(widget.input).to_be_focused()
    page.keyboard.press("Escape")
    expect(widget.panel).to_be_hidden()
    expect(widget.launcher).to_be_focused()
    expect(widget.launcher).to_have_attribute("aria-expanded", "false")


XSS = [
    "<img src=x onerror=alert(1)>",
    "<script>window.__xss=1</script>",
    "<svg onload=alert(1)>",
    "javascript:alert(1)",
    "<b><i>",
]


def test_markup_in_messages_is_only_text(page: Page) -> None:
    """Markup typed by a visitor shows literally, live and after a reload, and never runs.

    The page is served without its CSP, like many shops: only the widget stands in the way.
    """
    page.route("**/demo", without_csp)
    dialogs: list[str] = []

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    widget = Widget(page)
    widget.open()
    for text in XSS:
        widget.ask(text)
    tags = ".lucine-chat__log :is(img, script, svg, b, i, a, iframe)"
    for _ in range(2):
        expect(widget.visitor()).to_have_count(len(XSS))
        page.wait_for_timeout(300)  # an onerror or onload would have fired by now
        assert dialogs == []
        assert page.evaluate("typeof window.__xss") == "undefined"
        expect(widget.visitor()).to_have_text(XSS)
        assert page.locator(tags).count() == 0
        page.reload()
        expect(widget.panel).to_be_visible()


def test_operator_reply_arrives_by_polling_without_the_stream(
    page: Page, server: RunningServer
) -> None:
    """With the SSE stream blocked, an operator's reply still arrives (polling, every 3 s)."""
    blocked: list[str] = []

    def block(route: Route) -> None:
        blocked.append(route.request.url)
        route.abort()

    page.route("**/api/chat/stream/**", block)
    widget = Widget(page)
    with operator_online(server) as operator:
        widget.open()
        widget.ask("voglio parlare con un operatore")
        page.get_by_role("button", name=YES).click()
        expect(page.locator(".lucine-chat__title")).to_have_text(ADMIN_USERNAME)
        expect(page.locator(".lucine-chat__subtitle")).to_have_text("Operatore")
        session_id = widget.session_id()
        text = "Ciao, sono Anna dello staff: come posso aiutarti?"
        started = time.monotonic()
        call(operator, "/api/operators/send-message", {"sessionId": session_id, "message": text})
        reply = widget.log.locator(".lucine-chat__msg--operator")
        expect(reply.locator(".lucine-chat__bubble")).to_have_text(text, timeout=5_000)
        elapsed = time.monotonic() - started
        expect(reply.locator(".lucine-chat__who")).to_have_text(ADMIN_USERNAME)
        assert blocked, "the widget never tried the stream"
        assert elapsed < 5, elapsed
        screenshot(page, "desktop-operator")

        call(
            operator,
            "/api/chat-management/update-status",
            {"sessionId": session_id, "status": "RESOLVED"},
        )
        rating = page.get_by_role("form", name="Com'è andata la chat?")
        expect(rating).to_be_visible(timeout=5_000)
        rating.get_by_role("button", name="5 su 5").click()
        expect(rating.get_by_role("button", name="5 su 5")).to_have_attribute(
            "aria-pressed", "true"
        )
        rating.get_by_label("Commento (facoltativo)").fill("Gentilissimi!")
        screenshot(page, "desktop-rating")
        rating.get_by_role("button", name="Invia valutazione").click()
        expect(widget.log).to_contain_text("Grazie per la tua valutazione!")
        expect(rating).to_have_count(0)


@pytest.fixture(scope="module")
def manual_server(server: RunningServer) -> Iterator[RunningServer]:
    """A second server whose operators take chats by hand: visitors wait in the queue."""
    with serve_process(env={**SERVER_ENV, "LUCINE_AUTO_ASSIGN": "false"}) as running:
        yield running


def test_queue_place_updates_then_operator_over_the_stream(
    page: Page, manual_server: RunningServer
) -> None:
    """The queue place and wait show and move up live; the operator's name and reply follow."""
    widget = Widget(page)
    with (
        operator_online(manual_server) as operator,
        httpx.Client(base_url=manual_server.url, timeout=10) as visitor,
    ):
        first = visitor.post("/api/chat", json={"message": "voglio un operatore"}).json()
        queued = visitor.post(
            "/api/chat/action", json={"sessionId": first["sessionId"], "action": "request_operator"}
        ).json()
        assert queued["outcome"] == "queued", queued

        widget.open(f"{manual_server.url}/demo")
        widget.ask("voglio parlare con un operatore")
        page.get_by_role("button", name=YES).click()
        queue = page.get_by_role("status").filter(has_text="Sei in coda")
        expect(queue).to_contain_text("posizione 2")
        # With a free operator the estimate is zero: "your turn soon" instead of minutes.
        expect(queue).to_contain_text(re.compile("tocca a te a breve|attesa stimata circa"))
        screenshot(page, "desktop-queue")

        call(operator, "/api/operators/take-chat", {"sessionId": first["sessionId"]})
        expect(queue).to_contain_text("posizione 1", timeout=7_000)  # polled every 5 s

        session_id = widget.session_id()
        call(operator, "/api/operators/take-chat", {"sessionId": session_id})
        expect(page.locator(".lucine-chat__title")).to_have_text(ADMIN_USERNAME)
        expect(queue).to_be_hidden()
        text = "Eccomi, dimmi pure."
        started = time.monotonic()
        call(operator, "/api/operators/send-message", {"sessionId": session_id, "message": text})
        expect(widget.log.locator(".lucine-chat__msg--operator .lucine-chat__bubble")).to_have_text(
            [text], timeout=2_500
        )
        assert time.monotonic() - started < 2.5  # the stream, not the 3 s polling


SHOP = """<!doctype html><html lang="de"><head><meta charset="utf-8"><title>Shop</title></head>
<body><h1>Ein anderer Shop</h1>{tag}</body></html>"""


def shop_page(html: str) -> Callable[[Route], None]:
    """A route handler answering with ``html`` and no CSP, like a shop's own page."""

    def fulfill(route: Route) -> None:
        route.fulfill(content_type="text/html", body=html)

    return fulfill


def test_script_tag_options(page: Page, server: RunningServer) -> None:
    """<html lang> picks the language; data- attributes set language, side, colour, greeting."""
    plain = '<script src="/widget.js" defer></script>'
    tuned = (
        '<script src="/widget.js" defer data-language="en" data-position="left"'
        ' data-color="#0a7d3b" data-greeting="Hello from the shop!"></script>'
    )
    for path, tag in (("/shop-de", plain), ("/shop-en", tuned)):
        page.route(f"**{path}", shop_page(SHOP.format(tag=tag)))

    page.goto(f"{server.url}/shop-de")
    expect(page.get_by_role("button", name="Chat öffnen")).to_be_visible()

    page.goto(f"{server.url}/shop-en")
    launcher = page.get_by_role("button", name="Open the chat")
    expect(launcher).to_be_visible()
    box = launcher.bounding_box()
    assert box is not None
    assert box["x"] < 100  # bottom left
    accent = page.evaluate(
        "getComputedStyle(document.querySelector('.lucine-chat'))"
        ".getPropertyValue('--lucine-accent').trim()"
    )
    assert accent == "#0a7d3b"
    launcher.click()
    panel = page.get_by_role("dialog", name="Lucine di Natale")
    expect(panel).to_contain_text("Hello from the shop!")
    page.get_by_role("textbox", name="Your message").fill("what time do you open?")
    page.keyboard.press("Enter")
    expect(panel.locator(".lucine-chat__source")).to_contain_text("Source:")


def test_test_mode_shows_the_widget_only_after_the_parameter(
    page: Page, server: RunningServer
) -> None:
    """With data-test-param the widget hides until ?chatbot=test, then stays for the visit."""
    tag = '<script src="/widget.js" defer data-test-param="chatbot=test"></script>'
    page.route(re.compile(r"/shop-test(\?.*)?$"), shop_page(SHOP.format(tag=tag)))
    launcher = page.get_by_role("button", name="Chat öffnen")
    page.goto(f"{server.url}/shop-test")
    wait_until(page, "document.readyState === 'complete'")
    expect(launcher).to_have_count(0)
    page.goto(f"{server.url}/shop-test?chatbot=test")
    expect(launcher).to_be_visible()
    page.goto(f"{server.url}/shop-test")
    expect(launcher).to_be_visible()


CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
OUTAGE_IT = "Il servizio è momentaneamente non disponibile. Riprova tra qualche istante."


def outage(route: Route) -> None:
    """Answer as POST /api/chat does while Postgres is down: the real handler's 503."""
    error = ExternalServiceError(service="database", reason="OperationalError")
    answer = lucine_error(None, error)  # type: ignore[arg-type]  # it never reads the request
    route.fulfill(
        status=answer.status_code, content_type="application/json", body=json.dumps(answer.content)
    )


def stored(server: RunningServer, session_id: str) -> list[tuple[str, str]]:
    """Every message the server holds for a chat, as (sender, text), read the widget's way."""
    answer = httpx.get(f"{server.url}/api/chat/poll/{session_id}", params={"since": 0}, timeout=10)
    assert answer.status_code == 200, answer.text
    return [(m["sender"], m["message"]) for m in answer.json()["messages"]]


def chat_bodies(page: Page) -> list[Any]:
    """The bodies of the POST /api/chat requests the page makes from now on, in order."""
    bodies: list[Any] = []
    page.on(
        "request",
        lambda request: (
            bodies.append(request.post_data_json)
            if request.method == "POST" and request.url.endswith("/api/chat")
            else None
        ),
    )
    return bodies


def test_an_outage_keeps_the_text_and_says_so(page: Page, server: RunningServer) -> None:
    """On a 503 the text stays in the input under an Italian notice; once back, it goes once."""
    widget = Widget(page)
    widget.open()
    widget.ask("a che ora aprite?")
    session_id = widget.session_id()
    bodies = chat_bodies(page)
    page.route("**/api/chat", outage)
    widget.input.fill("posso portare il cane?")
    widget.input.press("Enter")
    notice = widget.panel.get_by_role("alert")
    expect(notice).to_have_text(OUTAGE_IT)
    expect(widget.input).to_have_value("posso portare il cane?")
    expect(widget.visitor()).to_have_text(["a che ora aprite?"])
    screenshot(page, "desktop-outage")
    assert len(bodies) == 1  # a refusal is not resent by itself
    assert [text for sender, text in stored(server, session_id) if sender == "USER"] == [
        "a che ora aprite?"
    ]

    page.unroute("**/api/chat", outage)
    widget.input.press("Enter")
    expect(widget.replies()).to_have_count(2)
    expect(notice).to_be_hidden()
    expect(widget.input).to_have_value("")
    expect(widget.visitor()).to_have_text(["a che ora aprite?", "posso portare il cane?"])
    # Sent again unchanged, it is the same message as far as the server can tell.
    assert len(bodies) == 2
    assert bodies[1]["clientMessageId"] == bodies[0]["clientMessageId"]
    assert [text for sender, text in stored(server, session_id) if sender == "USER"] == [
        "a che ora aprite?",
        "posso portare il cane?",
    ]


@pytest.mark.parametrize(
    ("language", "label", "notice"),
    [
        ("en", "Your message", "The service is briefly unavailable. Please try again in a moment."),
        (
            "de",
            "Ihre Nachricht",
            "Der Dienst ist kurz nicht verfügbar. Bitte versuchen Sie es gleich noch einmal.",
        ),
    ],
    ids=["en", "de"],
)
def test_the_outage_notice_speaks_the_widgets_language(
    page: Page, server: RunningServer, language: str, label: str, notice: str
) -> None:
    """With data-language set, the outage notice is in that language and the text stays."""
    tag = f'<script src="/widget.js" defer data-language="{language}"></script>'
    page.route("**/shop-outage", shop_page(SHOP.format(tag=tag)))
    page.route("**/api/chat", outage)
    page.goto(f"{server.url}/shop-outage")
    page.locator(".lucine-chat__launcher").click()
    box = page.get_by_role("textbox", name=label)
    box.fill("what time do you open?")
    box.press("Enter")
    expect(page.get_by_role("dialog").get_by_role("alert")).to_have_text(notice)
    expect(box).to_have_value("what time do you open?")


@pytest.mark.parametrize(
    "lost",
    [
        pytest.param(1, id="new-chat"),
        pytest.param(2, id="ongoing-chat"),
    ],
)
def test_a_lost_answer_is_resent_and_stored_once(
    page: Page, server: RunningServer, lost: int
) -> None:
    """The server stores a message but its answer is lost: the resend (same id) stores nothing.

    Losing the first answer is the hard case: the page does not know its chat yet, and the
    resend must land in the chat the first attempt started, not in a new one.
    """
    bodies: list[Any] = []
    chats: list[str] = []
    polls_fail = False

    def lose_one_answer(route: Route) -> None:
        nonlocal polls_fail
        bodies.append(route.request.post_data_json)
        polls_fail = len(bodies) == lost
        if not polls_fail:
            route.fallback()
            return
        answer = route.fetch()  # the server stores the message and answers...
        chats.append(answer.json()["sessionId"])
        route.abort("connectionreset")  # ...but the answer never reaches the page

    def poll(route: Route) -> None:
        # A poll seeing the message stored would spare the resend: this test wants it.
        if polls_fail:
            route.abort()
        else:
            route.fallback()

    page.route("**/api/chat", lose_one_answer)
    page.route("**/api/chat/poll/**", poll)
    widget = Widget(page)
    widget.open()
    widget.ask("a che ora aprite?")
    widget.ask("posso portare il cane?")
    expect(widget.visitor()).to_have_text(["a che ora aprite?", "posso portare il cane?"])
    expect(widget.replies()).to_have_count(2)

    assert len(bodies) == 3, bodies
    ids = [body["clientMessageId"] for body in bodies]
    assert all(CLIENT_ID.match(i) for i in ids), ids
    assert ids[lost] == ids[lost - 1]  # the resend
    assert len(set(ids)) == 2, ids
    assert widget.session_id() == chats[0]
    held = stored(server, chats[0])
    assert [sender for sender, _ in held] == ["USER", "BOT", "USER", "BOT"], held
    assert [text for sender, text in held if sender == "USER"] == [
        "a che ora aprite?",
        "posso portare il cane?",
    ]
    before = widget.log.locator(".lucine-chat__bubble").all_inner_texts()
    page.reload()
    expect(widget.panel).to_be_visible()
    expect(widget.log.locator(".lucine-chat__bubble")).to_have_text(before)


def test_no_connection_keeps_the_message_with_a_retry(page: Page, server: RunningServer) -> None:
    """With every attempt dropped the message stays, marked unsent; "Riprova" sends it once."""
    bodies: list[Any] = []

    def drop(route: Route) -> None:
        bodies.append(route.request.post_data_json)
        route.abort("internetdisconnected")

    page.route("**/api/chat", drop)
    widget = Widget(page)
    widget.open()
    widget.input.fill("a che ora aprite?")
    widget.input.press("Enter")
    expect(widget.log.locator(".lucine-chat__msg--pending")).to_have_count(1)
    retry = widget.log.get_by_role("button", name="Riprova")
    expect(retry).to_be_visible()  # after the resends, about 3.5 s
    expect(widget.log.locator(".lucine-chat__msg--unsent")).to_contain_text("Non inviato.")
    expect(widget.panel.get_by_role("alert")).to_have_text(
        "Connessione non riuscita. Controlla la rete e riprova."
    )
    expect(widget.visitor()).to_have_text(["a che ora aprite?"])
    expect(widget.input).to_have_value("")
    assert len(bodies) == 4, bodies  # the first attempt and three resends
    assert len({body["clientMessageId"] for body in bodies}) == 1
    screenshot(page, "desktop-unsent")

    # Refused on the resend: the server may hold it from a lost answer, so it stays unsent
    # (to go again under its own id) instead of going back into the input.
    page.unroute("**/api/chat", drop)
    page.route("**/api/chat", outage)
    retry.click()
    expect(widget.panel.get_by_role("alert")).to_have_text(OUTAGE_IT)
    expect(retry).to_be_visible()
    expect(widget.input).to_have_value("")
    expect(widget.visitor()).to_have_text(["a che ora aprite?"])

    page.unroute("**/api/chat", outage)
    retry.click()
    expect(widget.replies()).to_have_count(1)
    expect(retry).to_have_count(0)
    expect(widget.panel.get_by_role("alert")).to_be_hidden()
    expect(widget.visitor()).to_have_text(["a che ora aprite?"])
    expect(widget.log.locator(".lucine-chat__msg--unsent")).to_have_count(0)
    wait_until(page, SESSION_ID_JS)  # saved with the answer's bookkeeping, just after
    held = stored(server, widget.session_id())
    assert [sender for sender, _ in held] == ["USER", "BOT"], held


def test_message_ids_without_random_uuid(page: Page) -> None:
    """Where crypto.randomUUID is missing (plain-HTTP shops) the id still fits the server's rule."""
    page.add_init_script("delete Crypto.prototype.randomUUID")
    bodies = chat_bodies(page)
    widget = Widget(page)
    widget.open()
    widget.ask("a che ora aprite?")
    widget.ask("posso portare il cane?")
    ids = [body["clientMessageId"] for body in bodies]
    assert all(CLIENT_ID.match(i) for i in ids), ids
    assert not any(UUID.match(i) for i in ids), ids  # the fallback made them
    assert ids[0] != ids[1]
