"""The operators' dashboard in Chromium against a real `lucine serve`, with the widget as visitor.

Each test gets a server of its own (the stats must count only that test's chats). The
visitor is the widget on /demo in a second browser context where the test is about the
conversation, and plain HTTP where it only needs chats to exist.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, Route, expect

from tests.browser.conftest import SERVER_ENV, screenshot
from tests.browser.helpers import (
    GIULIA_PASSWORD,
    YES,
    Dashboard,
    Widget,
    create_operator_api,
    open_page,
    visitor_asks_for_operator,
)
from tests.http_server import ADMIN_USERNAME, RunningServer, serve_process

pytestmark = pytest.mark.browser

XSS = [
    "<img src=x onerror=alert(1)>",
    "<script>window.__xss=1</script>",
    "<svg onload=alert(1)>",
]
MARKUP = ":is(img, script, svg, iframe, b, i)"
TOKEN_KEY = "lucine.dashboard.token"


@pytest.fixture
def lucine(browser: Browser) -> Iterator[RunningServer]:
    """A server of this test's own; chats go to ONLINE operators at once (auto-assign)."""
    with serve_process(env=SERVER_ENV) as running:
        yield running


@pytest.fixture
def watchful_lucine(browser: Browser) -> Iterator[RunningServer]:
    """Like ``lucine``, but the dashboard's event stream checks its token every second."""
    env = {**SERVER_ENV, "LUCINE_STREAM_KEEPALIVE_SECONDS": "1"}
    with serve_process(env=env) as running:
        yield running


@pytest.fixture
def manual_lucine(browser: Browser) -> Iterator[RunningServer]:
    """A server where operators take chats by hand, so visitors wait in the queue."""
    with serve_process(env={**SERVER_ENV, "LUCINE_AUTO_ASSIGN": "false"}) as running:
        yield running


def visitor_poll(client: httpx.Client, session_id: str) -> dict[str, Any]:
    """What the visitor's widget would read now."""
    answer = client.get(f"/api/chat/poll/{session_id}")
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def operator_id(page: Page, username: str) -> str:
    """An operator's id as the admin view shows it."""
    return page.locator(f"#operators-body tr[data-operator='{username}'] .op-id").inner_text()


def login_and_switch_availability(dashboard: Dashboard, server: RunningServer) -> str:
    """Log in (the token goes to sessionStorage), go AWAY and back ONLINE; the token."""
    page = dashboard.page
    page.goto("/dashboard")
    expect(dashboard.login_form).to_be_visible()
    screenshot(page, "dashboard-login")
    dashboard.login()
    token = page.evaluate(f"sessionStorage.getItem('{TOKEN_KEY}')")
    assert isinstance(token, str)
    assert token
    expect(page.get_by_role("radio", name="Online")).to_have_attribute("aria-checked", "true")
    dashboard.availability("Assente")
    me = httpx.get(f"{server.url}/api/operators/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["availability"] == "AWAY"
    dashboard.availability("Online")
    return token


def ticket_from_chat_then_closed(dashboard: Dashboard, shop: Page) -> None:
    """A HIGH ticket from the open chat resolves it; the ticket is then closed."""
    page = dashboard.page
    ticket_form = page.locator("#ticket-form")
    ticket_form.get_by_label("Oggetto").fill("Cambio data biglietto")
    ticket_form.get_by_label("Priorità").select_option(label="Alta")
    ticket_form.get_by_role("button", name="Crea ticket").click()
    expect(dashboard.status).to_have_text("Risolta")
    expect(dashboard.notes.last).to_contain_text("Cambio data biglietto")
    expect(shop.get_by_role("form", name="Com'è andata la chat?")).to_be_visible(timeout=6_000)

    page.locator("#ticket-result").get_by_role("button", name="Cambio data biglietto").click()
    detail = page.locator("#ticket-detail")
    fields = detail.locator("#td-fields")
    expect(detail.locator("#td-subject")).to_have_text("Cambio data biglietto")
    for text in ("Alta", "Aperto", "Nei tempi", "Apri la chat"):
        expect(fields).to_contain_text(text)
    expect(detail.locator("#td-transcript .msg")).to_have_count(5)  # the last five messages
    expect(page.locator("#tickets-body tr")).to_have_count(1)
    detail.get_by_label("Stato").select_option(label="Chiuso")
    detail.get_by_role("button", name="Salva modifiche").click()
    expect(fields).to_contain_text("Chiuso")
    expect(detail.get_by_role("button", name="Salva modifiche")).to_be_disabled()
    expect(page.locator("#tickets-body tr").first).to_contain_text("Chiuso")
    screenshot(page, "dashboard-tickets")
    page.locator("#view-tickets .toolbar").get_by_label("Stato").select_option(label="Aperto")
    expect(page.locator("#tickets-empty")).to_be_visible()


def stats_count_one_chat(dashboard: Dashboard) -> None:
    """Today's cards and the last bar of the 14-day chart show the one escalated chat."""
    page = dashboard.page
    dashboard.tab("Statistiche")
    expect(dashboard.stat("totalChats")).to_have_text("1")
    expect(dashboard.stat("escalated")).to_have_text("1")
    days = page.locator("#chart svg .chart-day")
    expect(days).to_have_count(14)
    expect(days.last.locator(".chart-value")).to_have_text(["1", "1"])
    expect(days.first.locator(".chart-value")).to_have_count(0)
    expect(page.locator("#team-body")).to_contain_text(ADMIN_USERNAME)
    expect(page.locator("#toast")).to_be_hidden()
    screenshot(page, "dashboard-stats")


def test_whole_conversation_between_widget_and_dashboard(
    browser: Browser, lucine: RunningServer
) -> None:
    """Widget asks, operator answers, notes, makes a ticket and closes it; stats count 1 chat."""
    with open_page(browser, lucine) as page, open_page(browser, lucine) as shop:
        requests: list[tuple[str, str | None]] = []
        page.on(
            "request",
            lambda request: requests.append((request.url, request.headers.get("authorization"))),
        )
        dashboard = Dashboard(page)
        token = login_and_switch_availability(dashboard, lucine)

        # The visitor, on the demo shop in another browser context, asks for a human.
        widget = Widget(shop)
        widget.open()
        widget.ask("voglio parlare con un operatore")
        shop.get_by_role("button", name=YES).click()
        expect(shop.locator(".lucine-chat__title")).to_have_text(ADMIN_USERNAME)
        session_id = widget.session_id()

        # Auto-assigned to the admin at once: pushed, it shows under "Assegnate" at once.
        item = dashboard.chat(session_id)
        expect(item).to_contain_text("Assegnata a te", timeout=5_000)
        expect(item).to_contain_text("Con operatore")
        dashboard.open_chat(session_id)
        expect(dashboard.status).to_have_text("Con operatore")
        visitor_texts = page.locator("#messages .msg-user .msg-text")
        expect(visitor_texts).to_have_text(["voglio parlare con un operatore"])
        expect(page.locator("#messages .msg-system")).not_to_have_count(0)

        reply = "Buonasera! Sono l'operatore di turno: come posso aiutarti?"
        dashboard.send(reply)
        operator_bubbles = widget.log.locator(".lucine-chat__msg--operator .lucine-chat__bubble")
        expect(operator_bubbles).to_have_text([reply], timeout=5_000)

        question = "Posso cambiare la data del mio biglietto per sabato?"
        widget.input.fill(question)
        widget.input.press("Enter")
        expect(visitor_texts.last).to_have_text(question, timeout=6_000)  # pushed
        dashboard.send("Certo, te la cambio subito: apro una richiesta per l'ufficio biglietti.")

        note = "Cliente con biglietto per venerdì, chiede di spostarlo a sabato."
        dashboard.add_note(note)
        expect(page.locator("#messages")).not_to_contain_text(note)
        expect(page.locator("#toast")).to_be_hidden()
        screenshot(page, "dashboard-conversation")

        ticket_from_chat_then_closed(dashboard, shop)
        expect(widget.log).not_to_contain_text(note)
        stats_count_one_chat(dashboard)

        # The token travelled only in the Authorization header, never in a URL.
        assert all(token not in url for url, _ in requests)
        authorised = [
            auth
            for url, auth in requests
            if "/api/" in url and "/api/operators/login" not in url and "/api/chat/" not in url
        ]
        assert authorised
        assert set(authorised) == {f"Bearer {token}"}

        dashboard.logout_button.click()
        expect(dashboard.login_form).to_be_visible()
        assert page.evaluate(f"sessionStorage.getItem('{TOKEN_KEY}')") is None
        assert page.title() == "Lucine"
        revoked = httpx.get(
            f"{lucine.url}/api/operators/me", headers={"Authorization": f"Bearer {token}"}
        )
        assert revoked.status_code == 401


def test_markup_from_visitors_and_operators_is_only_text(
    browser: Browser, lucine: RunningServer
) -> None:
    """Markup in messages, notes and ticket subjects shows literally and never runs."""
    with open_page(browser, lucine) as page, httpx.Client(base_url=lucine.url) as visitor:
        dashboard = Dashboard(page)
        dashboard.login()
        session_id, outcome = visitor_asks_for_operator(visitor)
        assert outcome["outcome"] == "assigned", outcome
        for text in XSS:
            sent = visitor.post("/api/chat", json={"message": text, "sessionId": session_id})
            assert sent.status_code == 200, sent.text

        expect(dashboard.chat(session_id).locator(".chat-last")).to_have_text(XSS[-1])
        dashboard.open_chat(session_id)
        expect(page.locator("#messages .msg-user .msg-text")).to_have_text(
            ["voglio un operatore", *XSS]
        )
        dashboard.send(XSS[0])
        assert visitor_poll(visitor, session_id)["messages"][-1]["message"] == XSS[0]
        for text in XSS:
            dashboard.add_note(text)
        expect(dashboard.notes).to_have_text(XSS)

        ticket_form = page.locator("#ticket-form")
        ticket_form.get_by_label("Oggetto").fill(XSS[1])
        ticket_form.get_by_label("Descrizione").fill(XSS[2])
        ticket_form.get_by_role("button", name="Crea ticket").click()
        expect(dashboard.status).to_have_text("Risolta")
        expect(dashboard.notes.last).to_contain_text(XSS[1])
        conversation = page.locator("#messages, #notes, #active-list, #ticket-result")
        expect(conversation.locator(MARKUP)).to_have_count(0)

        page.locator("#ticket-result").get_by_role("button", name=XSS[1]).click()
        expect(page.locator("#tickets-body .ticket-subject")).to_have_text([XSS[1]])
        expect(page.locator("#td-subject")).to_have_text(XSS[1])
        expect(page.locator("#td-description")).to_have_text(XSS[2])
        expect(page.locator("#td-transcript .msg-text")).to_contain_text([XSS[0]])
        tickets = page.locator("#view-tickets")
        expect(tickets.locator(MARKUP)).to_have_count(0)

        page.reload()  # the token is in sessionStorage: still logged in, same section
        expect(page.locator("#tickets-body .ticket-subject")).to_have_text([XSS[1]])
        expect(tickets.locator(MARKUP)).to_have_count(0)
        page.wait_for_timeout(300)  # an onerror or onload would have fired by now
        assert page.evaluate("typeof window.__xss") == "undefined"


def test_queue_title_badge_sound_take_close_and_hand_back(  # noqa: PLR0915 - one journey
    browser: Browser, manual_lucine: RunningServer
) -> None:
    """Queued chats show with place, SLA and title badge, beep once each, and can be taken."""
    with (
        open_page(browser, manual_lucine) as page,
        httpx.Client(base_url=manual_lucine.url) as visitor,
    ):
        dashboard = Dashboard(page)
        dashboard.login()
        expect(page).to_have_title("Lucine")
        first, outcome = visitor_asks_for_operator(visitor)
        assert outcome["outcome"] == "queued", outcome
        expect(dashboard.chat(first, "#pending-list")).to_contain_text("#1", timeout=5_000)
        # Each waiting chat shows what its visitor wrote, not the assistant's hand-off line.
        asked = dashboard.chat(first, "#pending-list").locator(".chat-last")
        expect(asked).to_have_text("voglio un operatore")
        expect(page).to_have_title("(1) Lucine")
        expect(page.locator("html")).to_have_attribute("data-alerts", "1")

        second, _ = visitor_asks_for_operator(visitor)
        expect(dashboard.chat(second, "#pending-list")).to_contain_text("#2", timeout=5_000)
        expect(page).to_have_title("(2) Lucine")
        expect(page.locator("html")).to_have_attribute("data-alerts", "2")
        expect(page.locator("#pending-badge")).to_have_text("2")
        page.locator("#active-filters").get_by_role("button", name="In coda").click()
        expect(dashboard.active).to_have_count(2)
        expect(dashboard.chat(first)).to_contain_text("In coda #1")
        # The first visitor writes again: the queue is read again, the same chats no new beep.
        with page.expect_response("**/api/operators/pending-chats"):
            again = visitor.post("/api/chat", json={"message": "ci sono?", "sessionId": first})
            assert again.status_code == 200, again.text
        expect(page.locator("html")).to_have_attribute("data-alerts", "2")
        expect(asked).to_have_text("ci sono?")

        # The SLA badge follows sla.state (the server needs minutes to reach these states).
        def late(route: Route) -> None:
            response = route.fetch()
            chats = response.json()
            for chat, state in zip(chats, ("breached", "warning"), strict=False):
                chat["sla"]["state"] = state
            route.fulfill(response=response, body=json.dumps(chats))

        page.route("**/api/operators/pending-chats", late)
        nudge = visitor.post("/api/chat", json={"message": "pronto?", "sessionId": second})
        assert nudge.status_code == 200, nudge.text  # the queue is read again, through `late`
        expect(dashboard.chat(first, "#pending-list")).to_contain_text("SLA superato")
        expect(dashboard.chat(second, "#pending-list")).to_contain_text("In scadenza")
        screenshot(page, "dashboard-queue")
        page.unroute("**/api/operators/pending-chats")

        dashboard.chat(first, "#pending-list").get_by_role("button", name="Prendi").click()
        expect(dashboard.status).to_have_text("Con operatore")
        expect(page).to_have_title("(1) Lucine")
        expect(dashboard.meta).to_contain_text("Assegnata a te")
        dashboard.send("Eccomi, dimmi pure.")
        dashboard.close_chat("Non risolta")
        assert visitor_poll(visitor, first)["sessionStatus"] == "NOT_RESOLVED"
        expect(dashboard.reply).to_be_disabled()

        dashboard.open_chat(second, "#pending-list")
        expect(dashboard.status).to_have_text("Con l'assistente")
        page.get_by_role("button", name="Prendi in carico").click()
        expect(dashboard.status).to_have_text("Con operatore")
        expect(page).to_have_title("Lucine")
        page.get_by_role("button", name="Restituisci all'assistente").click()
        expect(dashboard.status).to_have_text("Con l'assistente")
        assert visitor_poll(visitor, second)["sessionStatus"] == "ACTIVE"


def test_queue_rows_show_the_question_language_and_a_wait_that_moves_on(
    browser: Browser, manual_lucine: RunningServer
) -> None:
    """A waiting chat shows its visitor's words, language and the server's wait, ticking on."""
    with (
        open_page(browser, manual_lucine) as page,
        httpx.Client(base_url=manual_lucine.url) as visitor,
    ):
        page.clock.install()  # before the page's timers exist, so the test can move them on

        # The server's figure is shown, not one from requestedAt and the browser's clock:
        # nearly three minutes more than the server counted say so.
        def older(route: Route) -> None:
            response = route.fetch()
            if response.status != 200:
                route.fulfill(response=response)
                return
            chats = response.json()
            for chat in chats:
                chat["waitedSeconds"] += 170
            route.fulfill(response=response, body=json.dumps(chats))

        page.route("**/api/operators/pending-chats", older)
        try:
            dashboard = Dashboard(page)
            dashboard.login()
            expect(page.locator("html")).to_have_attribute("data-live", "stream")
            question = "hello, my QR code does not scan at the entrance"
            chat = visitor.post("/api/chat", json={"message": question})
            assert chat.status_code == 200, chat.text
            sid = chat.json()["sessionId"]
            action = visitor.post(
                "/api/chat/action", json={"sessionId": sid, "action": "request_operator"}
            )
            assert action.json()["outcome"] == "queued", action.text

            row = dashboard.chat(sid, "#pending-list")
            expect(row.locator(".chat-last")).to_have_text(question)
            expect(row.locator(".chat-last")).not_to_contain_text("connecting you")
            expect(row.locator(".chat-lang")).to_have_text("Inglese")
            expect(row.locator(".chat-wait")).to_have_text("2 min")
            # Between reads of the list (30 s apart while the stream is up) the wait moves on.
            page.clock.fast_forward(20_000)
            expect(row.locator(".chat-wait")).to_have_text("3 min")
        finally:
            # A read in flight as the page closes must not reach the next test's pages.
            page.unroute_all(behavior="ignoreErrors")


def create_giulia(admin: Dashboard) -> Locator:
    """The admin creates Giulia (capacity 2, then 4); the audit trail shows both; her row."""
    page = admin.page
    admin.tab("Amministrazione")
    form = page.locator("#operator-form")
    form.get_by_label("Nome utente").fill("giulia")
    form.get_by_label("Nome visualizzato").fill("Giulia Rossi")
    form.get_by_label("Password").fill(GIULIA_PASSWORD)
    form.get_by_label("Capacità").fill("2")
    form.get_by_role("button", name="Crea operatore").click()
    row = page.locator("#operators-body tr[data-operator='giulia']")
    expect(row).to_contain_text("Giulia Rossi")
    expect(row).to_contain_text("0 / 2")
    row.get_by_label("Capacità di giulia").fill("4")
    row.get_by_role("button", name="Salva").click()
    expect(row).to_contain_text("0 / 4")
    expect(page.locator("#audit-body")).to_contain_text("Operatore creato")
    expect(page.locator("#audit-body")).to_contain_text("Operatore modificato")
    screenshot(page, "dashboard-admin")
    return row


def test_admin_manages_operators_and_chats_move_between_them(
    browser: Browser, watchful_lucine: RunningServer
) -> None:
    """Admin creates and edits an operator; a chat is transferred both ways; revoked means out."""
    with (
        open_page(browser, watchful_lucine) as page,
        open_page(browser, watchful_lucine) as other,
        httpx.Client(base_url=watchful_lucine.url) as visitor,
    ):
        admin = Dashboard(page)
        admin.login()
        row = create_giulia(admin)
        admin_id = operator_id(page, "admin")
        giulia_id = operator_id(page, "giulia")

        giulia = Dashboard(other)
        giulia.login("giulia", GIULIA_PASSWORD)
        expect(other.get_by_role("button", name="Amministrazione")).to_be_hidden()
        admin.tab("Conversazioni")
        admin.availability("Assente")  # so the next chat goes to Giulia
        session_id, outcome = visitor_asks_for_operator(visitor)
        assert outcome["operator"] == "Giulia Rossi", outcome
        admin.availability("Online")

        giulia.open_chat(session_id)
        expect(giulia.meta).to_contain_text("Assegnata a te")
        transfer = other.locator("#transfer-form")
        expect(transfer.locator("select")).to_be_hidden()  # operators cannot list accounts
        transfer.get_by_placeholder("ID dell'operatore").fill(admin_id)
        transfer.get_by_role("button", name="Trasferisci la chat").click()
        expect(giulia.meta).to_contain_text(f"Assegnata a {ADMIN_USERNAME}")
        expect(giulia.reply).to_be_disabled()

        expect(admin.chat(session_id)).to_contain_text("Assegnata a te", timeout=5_000)
        admin.open_chat(session_id)
        choice = page.locator("#transfer-form").get_by_label("Operatore")
        expect(choice.locator(f"option[value='{giulia_id}']")).to_have_text(
            "Giulia Rossi (giulia) · Online · 0/4"
        )
        choice.select_option(giulia_id)
        page.get_by_role("button", name="Trasferisci la chat").click()
        expect(admin.meta).to_contain_text("Assegnata a Giulia Rossi")
        expect(giulia.meta).to_contain_text("Assegnata a te", timeout=6_000)
        admin.close_chat("Annullata")  # an admin may close anyone's chat
        expect(giulia.status).to_have_text("Annullata", timeout=6_000)

        # A new password logs Giulia out everywhere: nothing else is pushed to her, but her
        # stream says "revoked" at its next keep-alive and her dashboard goes to the login.
        admin.tab("Amministrazione")
        # The trail (loaded afresh with the table) records the transfers and the closing.
        for action in ("Trasferimento", "Cambio di stato"):
            expect(page.locator("#audit-body")).to_contain_text(action)
        row.get_by_label("Nuova password di giulia").fill("una nuova passphrase lunga")
        row.get_by_role("button", name="Reimposta").click()
        expect(giulia.login_form).to_be_visible(timeout=6_000)
        expect(other.locator("#login-notice")).to_contain_text("accedi di nuovo")
        row.get_by_role("button", name="Disattiva").click()
        expect(row).to_contain_text("Disattivato")
        row.get_by_role("button", name="Riattiva").click()
        expect(row.get_by_role("button", name="Disattiva")).to_be_visible()


def test_another_operators_note_appears_without_a_click(
    browser: Browser, lucine: RunningServer
) -> None:
    """A's open chat shows B's new note with no click; A's draft and scroll stay put.

    A has scrolled the long conversation up and is typing a reply: the note is pushed and
    shows with no click, and neither the draft nor the scroll is disturbed.
    """
    with (
        open_page(browser, lucine) as page,
        open_page(browser, lucine) as other,
        httpx.Client(base_url=lucine.url) as visitor,
    ):
        create_operator_api(lucine, "giulia", "Giulia Rossi")
        admin = Dashboard(page)
        admin.login()
        session_id, outcome = visitor_asks_for_operator(visitor)
        assert outcome["outcome"] == "assigned", outcome
        for number in range(1, 16):  # enough for the messages to scroll
            sent = visitor.post(
                "/api/chat", json={"message": f"Messaggio {number}", "sessionId": session_id}
            )
            assert sent.status_code == 200, sent.text

        admin.open_chat(session_id)
        expect(page.locator("#messages .msg-user")).to_have_count(16)
        box = page.locator("#messages")
        assert box.evaluate("b => b.scrollHeight > b.clientHeight + 300")
        box.evaluate("b => { b.scrollTop = 100; }")
        draft = "Sto controllando la prenotazione, un attimo"
        admin.reply.press_sequentially(draft[:20])

        giulia = Dashboard(other)
        giulia.login("giulia", GIULIA_PASSWORD)
        other.locator("#active-filters").get_by_role("button", name="Tutte").click()
        giulia.open_chat(session_id)
        note = "Il cliente ha già chiamato ieri: biglietto n. 4411."
        giulia.add_note(note)

        expect(admin.notes).to_have_text([note], timeout=5_000)  # no click: pushed
        expect(page.locator("#notes .note-who")).to_have_text(["Giulia Rossi"])
        expect(admin.reply).to_be_focused()
        expect(admin.reply).to_have_value(draft[:20])
        admin.reply.press_sequentially(draft[20:])
        expect(admin.reply).to_have_value(draft)
        assert box.evaluate("b => b.scrollTop") == 100
        expect(box).not_to_contain_text(note)

        # New content does arrive in the messages too, the scroll position still kept.
        later = visitor.post(
            "/api/chat", json={"message": "Ci siete ancora?", "sessionId": session_id}
        )
        assert later.status_code == 200, later.text
        expect(page.locator("#messages .msg-user .msg-text").last).to_have_text(
            "Ci siete ancora?", timeout=5_000
        )
        assert box.evaluate("b => b.scrollTop") == 100
        expect(admin.reply).to_have_value(draft)
