"""The dashboard's knowledge base in Chromium against a real `lucine serve`, the widget as visitor.

Admins search, add, edit, try and delete items through the form; a visitor on /demo gets
the new answer at once; plain operators read and try, nothing more. Answers with markup
show literally everywhere they appear. Questions nothing answered are listed, grouped, and
open their chats. One server serves the module: each test uses
item ids of its own and deletes what it made.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.conftest import SERVER_ENV, screenshot
from tests.browser.helpers import Dashboard, Widget, login_api, open_page, wait_until, without_csp
from tests.http_server import ADMIN_PASSWORD, ADMIN_USERNAME, RunningServer, serve_process

pytestmark = pytest.mark.browser

ITEM = "slitta-renne"
QUESTION = "Si può fare un giro in slitta con le renne?"
FIRST_ANSWER = "Sì: la slitta delle renne parte ogni 20 minuti dalla Piazza delle Stelle."
ANSWER = "Sì: la slitta delle renne parte ogni 15 minuti dalla Piazza delle Stelle, 5 € a testa."
VISITOR_QUESTION = "posso fare un giro in slitta con le renne?"
MARCO_PASSWORD = "una passphrase abbastanza lunga"
# Classic payloads, one per line of the answer; each would set __xss or open a dialog.
PAYLOADS = [
    "<script>window.__xss = 1</script>",
    '<img src=x onerror="window.__xss = 2; alert(2)">',
    '<a href="javascript:alert(3)">apri qui</a>',
    '<svg onload="window.__xss = 4; alert(4)"><circle r="5"/></svg>',
    '<iframe src="javascript:alert(5)"></iframe>',
    "<b><i>markup rotto <div title='",
    "javascript:alert(6)",
]
# Off-topic questions no sample item answers: the first two ask the same thing.
UNANSWERED = [
    "chi ha vinto la partita ieri?",
    "chi ha vinto la partita di calcio ieri sera?",
    '<img src=x onerror="window.__xss = 9"> che tempo farà domani?',
]
ANSWERED = "quanto costa il biglietto?"


@pytest.fixture(scope="module")
def lucine(browser: Browser) -> Iterator[RunningServer]:
    """A server for this module; chats go to ONLINE operators at once (auto-assign)."""
    with serve_process(env=SERVER_ENV) as running:
        yield running


class KnowledgeBase:
    """The knowledge-base view, found by role and label."""

    def __init__(self, page: Page) -> None:
        self.page = page
        view = page.locator("#view-kb")
        self.view = view
        self.search = view.get_by_role("searchbox", name="Cerca")
        self.language_filter = view.locator("#kb-search").get_by_label("Lingua")
        self.items = view.locator("#kb-list .kb-item")
        self.empty = view.locator("#kb-empty")
        self.new = view.get_by_role("button", name="Nuova voce")
        self.form = view.locator("#kb-form")
        self.title = self.form.locator("#kb-form-title")
        self.id = self.form.get_by_label("ID", exact=True)
        self.language = self.form.get_by_label("Lingua")
        self.question = self.form.get_by_label("Domanda", exact=True)
        self.answer = self.form.get_by_label("Risposta", exact=True)
        self.keywords = self.form.get_by_label("Parole chiave", exact=True)
        self.save = self.form.get_by_role("button", name="Salva")
        self.delete = self.form.get_by_role("button", name="Elimina", exact=True)
        self.error = self.form.get_by_role("alert")
        trial = view.get_by_role("region", name="Prova una domanda")
        self.trial = trial
        self.trial_answer = trial.locator("#kb-try-answer")
        self.confidence = trial.locator("#kb-try-confidence")
        self.human = trial.locator("#kb-try-human")
        self.sources = trial.locator("#kb-try-sources .kb-hit")
        self.others = trial.locator("#kb-try-retrieved .kb-hit")
        gaps = view.get_by_role("region", name="Domande senza risposta")
        self.gaps = gaps
        self.gap_groups = gaps.locator("#kb-gaps-list .kb-gap")
        self.gaps_period = gaps.get_by_label("Periodo")
        self.gaps_empty = gaps.locator("#kb-gaps-empty")

    def open(self) -> None:
        """Go to the view; the list loads."""
        Dashboard(self.page).tab("Base di conoscenza")
        expect(self.view).to_be_visible()
        expect(self.items).not_to_have_count(0)

    def gap(self, text: str) -> Locator:
        """The group whose first or other examples include ``text``."""
        return self.gap_groups.filter(has=self.page.locator(".kb-gap-open", has_text=text))

    def find(self, words: str, language: str = "Tutte") -> None:
        """Type ``words`` in the search box and choose a language."""
        self.language_filter.select_option(label=language)
        self.search.fill(words)

    def item(self, item_id: str) -> Locator:
        """An item's row in the list."""
        return self.items.and_(self.page.locator(f"[data-item='{item_id}']"))

    def show(self, item_id: str) -> None:
        """Open an item from the list."""
        self.item(item_id).get_by_role("button").click()
        expect(self.id).to_have_value(item_id)

    def create(self, item_id: str, question: str, answer: str, keywords: str) -> None:
        """Fill the form of a new item and press Salva."""
        self.new.click()
        expect(self.title).to_have_text("Nuova voce")
        expect(self.id).to_be_focused()
        self.id.fill(item_id)
        self.question.fill(question)
        self.answer.fill(answer)
        self.keywords.fill(keywords)
        self.save.click()

    def ask(self, question: str, language: str = "Automatica") -> None:
        """Try a question in the box and wait for the answer."""
        before = self.trial_answer.text_content() if self.trial_answer.is_visible() else None
        self.trial.get_by_label("Domanda del cliente").fill(question)
        self.trial.get_by_label("Lingua").select_option(label=language)
        self.trial.get_by_role("button", name="Prova").click()
        expect(self.trial_answer).to_be_visible()
        if before is not None:
            expect(self.trial_answer).not_to_have_text(before)


def search_and_filter(kb: KnowledgeBase) -> None:
    """Words and language narrow the list through the API; a row opens its item read from it."""
    kb.find("cane", "Italiano")
    expect(kb.items).to_have_count(1)
    expect(kb.items).to_contain_text(["cani"])
    kb.find("", "Tedesco")
    expect(kb.items).to_have_count(4)
    for code in kb.items.locator(".badge").all_inner_texts():
        assert code == "DE"
    kb.find("Hund", "Tedesco")
    expect(kb.items).to_have_count(1)
    kb.show("de-hunde")
    expect(kb.question).to_have_value("Darf ich meinen Hund mitbringen?")
    expect(kb.language).to_have_value("de")
    expect(kb.id).to_be_disabled()  # an existing item keeps its id
    kb.find("nessunaparolacosì", "Tutte")
    expect(kb.items).to_have_count(0)
    expect(kb.empty).to_have_text("Nessuna voce corrisponde alla ricerca.")


def create_with_errors_shown(kb: KnowledgeBase) -> None:
    """A taken id (409) and a malformed one (400) are explained on the ID field; then it saves."""
    kb.create("cani", QUESTION, FIRST_ANSWER, "slitta, renne, giro in slitta")
    expect(kb.error).to_have_text("Esiste già una voce con ID «cani»: scegline un altro.")
    expect(kb.id).to_have_attribute("aria-invalid", "true")
    kb.id.fill("slitta con le renne")
    kb.save.click()
    expect(kb.error).to_contain_text("Controlla il campo «ID»")
    expect(kb.id).to_be_focused()
    kb.id.fill(ITEM)
    kb.save.click()
    expect(kb.title).to_have_text(f"Voce {ITEM}")
    expect(kb.error).to_be_hidden()
    expect(kb.id).to_be_disabled()
    expect(kb.id).not_to_have_attribute("aria-invalid", "true")
    expect(kb.page.locator("#toast")).to_have_text(f"Voce «{ITEM}» creata.")
    kb.find("slitta renne")
    expect(kb.items).to_have_count(1)
    expect(kb.item(ITEM)).to_contain_text(QUESTION)
    expect(kb.item(ITEM)).to_have_class(re.compile("is-open"))


def edit_with_errors_shown(kb: KnowledgeBase) -> None:
    """An empty question is refused (400, the field named); the new answer is then saved."""
    kb.question.fill("   ")
    kb.save.click()
    expect(kb.error).to_have_text("Controlla il campo «Domanda»: non può essere vuoto.")
    expect(kb.question).to_have_attribute("aria-invalid", "true")
    kb.question.fill(QUESTION)
    kb.answer.fill(ANSWER)
    kb.save.click()
    expect(kb.page.locator("#toast")).to_have_text(f"Voce «{ITEM}» salvata.")
    expect(kb.error).to_be_hidden()
    kb.show(ITEM)  # read back from the server
    expect(kb.answer).to_have_value(ANSWER)
    expect(kb.keywords).to_have_value("slitta, renne, giro in slitta")


def try_questions(kb: KnowledgeBase) -> None:
    """The box shows the new answer, its source and confidence; hits open their items."""
    kb.ask(VISITOR_QUESTION)
    expect(kb.trial_answer).to_have_text(ANSWER)
    expect(kb.sources).to_have_count(1)
    expect(kb.sources).to_contain_text([re.compile(rf"{ITEM}\s*{re.escape(QUESTION)}\s*\d+%")])
    expect(kb.confidence).to_have_text(re.compile(r"^Confidenza (9\d|100)%$"))
    expect(kb.human).to_be_hidden()
    expect(kb.others).not_to_have_count(0)
    other = kb.others.first.get_attribute("data-item")
    assert other
    assert other != ITEM
    kb.others.first.get_by_role("button").click()
    expect(kb.id).to_have_value(other)
    kb.sources.get_by_role("button").click()
    expect(kb.id).to_have_value(ITEM)
    expect(kb.answer).to_have_value(ANSWER)

    kb.ask("voglio parlare con un operatore")
    expect(kb.human).to_have_text("Verrebbe proposto un operatore")
    expect(kb.trial).to_contain_text("Perché: il cliente chiede un operatore.")
    expect(kb.sources).to_have_count(0)
    kb.ask(VISITOR_QUESTION)
    expect(kb.sources).to_have_count(1)
    expect(kb.page.locator("#toast")).to_be_hidden()
    screenshot(kb.page, "dashboard-kb")  # docs/dashboard-kb.png is a copy of this one


def delete_with_confirmation(kb: KnowledgeBase) -> None:
    """Elimina asks first; Annulla keeps the item, "Sì, elimina" removes it."""
    kb.delete.click()
    confirm = kb.form.get_by_role("group", name="Conferma eliminazione")
    expect(confirm).to_contain_text(f"Eliminare definitivamente «{ITEM}»?")
    confirm.get_by_role("button", name="Annulla").click()
    expect(confirm).to_be_hidden()
    expect(kb.item(ITEM)).to_have_count(1)
    kb.delete.click()
    confirm.get_by_role("button", name="Sì, elimina").click()
    expect(kb.page.locator("#toast")).to_have_text(f"Voce «{ITEM}» eliminata.")
    expect(kb.form).to_be_hidden()
    expect(kb.items).to_have_count(0)


def visitor_answer(server: RunningServer, question: str) -> dict[str, Any]:
    """What a new chat opened with ``question`` answers, over plain HTTP."""
    answer = httpx.post(f"{server.url}/api/chat", json={"message": question}, timeout=10)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def test_admin_adds_edits_tries_and_deletes_an_item(
    browser: Browser, lucine: RunningServer
) -> None:
    """An item made and edited in the form answers the widget at once, and goes when deleted."""
    with (
        open_page(browser, lucine, viewport=(1280, 800)) as page,
        open_page(browser, lucine) as shop,
    ):
        Dashboard(page).login()
        kb = KnowledgeBase(page)
        kb.open()
        search_and_filter(kb)
        create_with_errors_shown(kb)
        edit_with_errors_shown(kb)
        try_questions(kb)

        widget = Widget(shop)
        widget.open()
        widget.ask(VISITOR_QUESTION)
        reply = widget.log.locator(".lucine-chat__msg--bot[data-seq]").last
        expect(reply.locator(".lucine-chat__bubble")).to_have_text(ANSWER)
        expect(reply.locator(".lucine-chat__source")).to_have_text("Fonte: slitta renne")

        delete_with_confirmation(kb)
        gone = visitor_answer(lucine, VISITOR_QUESTION)
        assert ITEM not in gone["sources"], gone
        assert gone["reply"] != ANSWER


def test_plain_operator_reads_and_tries_but_cannot_change(
    browser: Browser, lucine: RunningServer
) -> None:
    """An operator sees items with every field disabled and no buttons; the API says 403."""
    with login_api(lucine, ADMIN_USERNAME, ADMIN_PASSWORD) as admin:
        created = admin.post(
            "/api/admin/operators",
            json={"username": "marco", "displayName": "Marco Bianchi", "password": MARCO_PASSWORD},
        )
        assert created.status_code == 201, created.text
    with open_page(browser, lucine) as page:
        Dashboard(page).login("marco", MARCO_PASSWORD)
        expect(page.get_by_role("button", name="Amministrazione")).to_be_hidden()
        kb = KnowledgeBase(page)
        kb.open()
        expect(kb.new).to_be_hidden()
        kb.find("cane", "Italiano")
        kb.show("cani")
        expect(kb.view.locator("#kb-readonly")).to_have_text("Sola lettura")
        for field in (kb.id, kb.language, kb.question, kb.answer, kb.keywords):
            expect(field).to_be_disabled()
        expect(kb.answer).to_have_value(re.compile("guinzaglio"))
        expect(kb.save).to_be_hidden()
        expect(kb.delete).to_be_hidden()
        kb.ask("posso portare il cane?")  # trying needs no admin
        expect(kb.sources).to_contain_text(["cani"])

        token = page.evaluate("sessionStorage.getItem('lucine.dashboard.token')")
        changed = httpx.put(
            f"{lucine.url}/api/kb/cani",
            json={"question": "?", "answer": "no", "keywords": [], "language": "it"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert changed.status_code == 403, changed.text


def test_markup_in_an_answer_is_only_text(browser: Browser, lucine: RunningServer) -> None:
    """Payloads in an answer show literally in the form, the try box and the widget; none runs.

    Both pages are served without their CSP, so only the dashboard's and the widget's own
    code stand in the way; any dialog fails the test (open_page), as does a set __xss.
    """
    item_id = "presepe-marzapane"
    question = "Com'è fatto il presepe di marzapane <img src=x onerror=alert(7)>?"
    answer = "\n".join(PAYLOADS)
    with open_page(browser, lucine) as page, open_page(browser, lucine) as shop:
        page.route("**/dashboard", without_csp)
        shop.route("**/demo", without_csp)
        Dashboard(page).login()
        # Without the CSP an inline handler does run here: only the dashboard's code guards.
        page.evaluate("""() => {
            const probe = document.createElement("img");
            probe.setAttribute("onerror", "window.__probe = 1; this.remove()");
            probe.src = "data:,not-an-image";
            document.body.append(probe);
        }""")
        wait_until(page, "window.__probe === 1")
        kb = KnowledgeBase(page)
        kb.open()
        kb.create(item_id, question, answer, "presepe, marzapane")
        expect(kb.title).to_have_text(f"Voce {item_id}")
        kb.find("marzapane")
        expect(kb.item(item_id).locator(".kb-question")).to_have_text(question)
        kb.show(item_id)
        expect(kb.answer).to_have_value(answer)
        expect(kb.question).to_have_value(question)

        kb.ask("com'è fatto il presepe di marzapane?")
        expect(kb.sources).to_contain_text([question])
        lines = kb.trial_answer.evaluate("p => p.textContent.split('\\n')")
        assert lines == PAYLOADS
        widget = Widget(shop)
        widget.open()
        widget.ask("com'è fatto il presepe di marzapane?")
        bubble = widget.replies().last
        assert bubble.evaluate("p => p.textContent.split('\\n')") == PAYLOADS

        page.wait_for_timeout(300)  # an onerror or onload would have fired by now
        for tab in (page, shop):
            assert tab.evaluate("typeof window.__xss") == "undefined"
        injected = ":is(script, img, a, svg, iframe, b, i, div)"
        for where in ("#kb-list", "#kb-try-answer", "#kb-try-sources", "#kb-form-title"):
            expect(page.locator(where).locator(injected)).to_have_count(0)
        expect(widget.log.locator(f".lucine-chat__bubble {injected}")).to_have_count(0)

        kb.delete.click()
        kb.form.get_by_role("button", name="Sì, elimina").click()
        expect(kb.items).to_have_count(0)


def test_unanswered_questions_are_listed_grouped_and_open_their_chats(
    browser: Browser, lucine: RunningServer
) -> None:
    """Questions nothing answered show, grouped by meaning, as text; an answered one does not.

    The group of two shows its count, its newest question as the title, the other below and
    the last date; the period selector asks the server again; a question opens its chat.
    Served without its CSP, markup in a question stays text.
    """
    sessions = {text: visitor_answer(lucine, text)["sessionId"] for text in UNANSWERED}
    assert visitor_answer(lucine, ANSWERED)["sources"]
    with open_page(browser, lucine) as page:
        page.route("**/dashboard", without_csp)
        Dashboard(page).login()
        kb = KnowledgeBase(page)
        kb.open()
        expect(kb.gaps).to_be_visible()
        for text in UNANSWERED:
            expect(kb.gap(text)).to_have_count(1)
        expect(kb.gaps).not_to_contain_text(ANSWERED)
        pair = kb.gap(UNANSWERED[0])
        expect(pair).to_have_count(1)
        expect(pair.locator(".kb-gap-count")).to_have_text("2")
        expect(pair.locator(".kb-gap-title")).to_have_text(UNANSWERED[1])
        expect(pair.locator(".kb-gap-examples li")).to_have_text([UNANSWERED[0]])
        expect(pair.locator(".kb-gap-when")).to_have_text(
            re.compile(r"^Ultima: \d\d/\d\d/\d{4},? \d\d:\d\d$")
        )
        marked = kb.gap("che tempo farà domani?").locator(".kb-gap-title")
        expect(marked).to_have_text(UNANSWERED[2])
        expect(kb.gaps.locator("img")).to_have_count(0)
        assert page.evaluate("typeof window.__xss") == "undefined"
        kb.gaps.scroll_into_view_if_needed()
        screenshot(page, "dashboard-kb-gaps")

        with page.expect_response(lambda r: "/api/kb/gaps?days=7" in r.url) as week:
            kb.gaps_period.select_option(label="Ultimi 7 giorni")
        assert week.value.ok
        expect(kb.gap(UNANSWERED[1])).to_have_count(1)
        page.route(
            "**/api/kb/gaps?days=90",
            lambda route: route.fulfill(json={"groups": [], "days": 90}),
        )
        kb.gaps_period.select_option(label="Ultimi 90 giorni")
        expect(kb.gaps_empty).to_have_text("Nessuna domanda senza risposta negli ultimi 90 giorni.")
        expect(kb.gap_groups).to_have_count(0)
        kb.gaps_period.select_option(label="Ultimi 30 giorni")
        expect(kb.gaps_empty).to_be_hidden()

        kb.gap(UNANSWERED[1]).locator(".kb-gap-title").click()
        expect(page.locator("#view-chats")).to_be_visible()
        expect(page.locator("#conv-title")).to_have_attribute("title", sessions[UNANSWERED[1]])
        expect(page.locator("#messages")).to_contain_text(UNANSWERED[1])
