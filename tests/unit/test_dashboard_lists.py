"""The operators' waiting list: what each visitor asked, in which language, waiting how long.

On the in-memory adapters, and on SQLite and Postgres for how many SELECTs a list takes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import event

from lucine_adapters.sql.database import SqlDatabase
from lucine_adapters.system import FixedClock
from lucine_core.enums import Availability, Language
from lucine_core.services import Services
from lucine_core.services.chat import visitor_message
from lucine_core.services.dashboard import PREVIEW_LENGTH, active_chats, pending_chats, preview
from lucine_core.services.handoff import request_operator
from lucine_core.services.operators import set_availability
from tests.conftest import make_operator, minutes
from tests.databases import open_postgres, open_sqlite


def manual(services: Services) -> Services:
    """The same services with automatic assignment off, so chats stay in the queue."""
    return attrs.evolve(services, policies=attrs.evolve(services.policies, auto_assign=False))


async def queued_chat(services: Services, *texts: str) -> str:
    """A chat whose visitor wrote ``texts`` and then asked for a human; its id."""
    sid = None
    for text in texts:
        sid = (await visitor_message(services, text=text, session_id=sid)).session_id
    assert sid is not None
    outcome = await request_operator(services, session_id=sid)
    assert outcome.outcome == "queued", outcome
    return sid


async def online_operator(services: Services) -> None:
    """One operator ONLINE, so requests are queued rather than offered a ticket."""
    ada = await make_operator(services, "ada")
    await set_availability(services, operator_id=ada, availability=Availability.ONLINE)


# --- previews -----------------------------------------------------------------------------


@given(text=st.text(min_size=1, max_size=400), limit=st.integers(2, 200))
def test_a_preview_is_one_line_within_the_limit_and_starts_like_the_text(
    text: str, limit: int
) -> None:
    """A preview never exceeds its limit, has no line breaks and is the text's beginning."""
    flat = " ".join(text.split())
    shown = preview(text, limit)
    assert len(shown) <= limit
    assert "\n" not in shown
    if len(flat) <= limit:
        assert shown == flat
    else:
        assert shown.endswith("…")
        assert flat.startswith(shown[:-1])


def test_a_long_message_is_cut_at_a_word() -> None:
    """A cut falls between words when there is one in the second half of the limit."""
    assert preview("uno due tre quattro", 12) == "uno due tre…"
    assert preview("a" * 30, 10) == "a" * 9 + "…"
    assert preview("  riga una\n\nriga   due ") == "riga una riga due"


# --- the waiting list ---------------------------------------------------------------------


async def test_waiting_chats_show_the_visitors_words_language_and_wait(
    services: Services, clock: FixedClock
) -> None:
    """Each waiting chat carries its visitor's last message, not the hand-off line after it."""
    services = manual(services)
    await online_operator(services)
    requested = clock.now()
    english = await queued_chat(
        services, "hello, I bought two tickets", "my QR code does not scan, can someone help?"
    )
    clock.advance(minutes(1))
    italian = await queued_chat(services, "il QR del biglietto non funziona")
    clock.advance(minutes(3))
    with_assistant = await visitor_message(services, text="a che ora aprite?", session_id=None)

    first, second = await pending_chats(services)

    assert (first.session_id, second.session_id) == (english, italian)
    assert first.last_visitor_message == "my QR code does not scan, can someone help?"
    assert first.last_message is not None
    assert first.last_message.startswith("I'm connecting you with an operator")
    assert first.language is Language.EN
    assert first.requested_at == requested
    assert first.waited_seconds == 4 * 60
    assert second.last_visitor_message == "il QR del biglietto non funziona"
    assert second.last_message is not None
    assert second.last_message.startswith("Ti sto mettendo in contatto")
    assert second.language is Language.IT
    assert second.waited_seconds == 3 * 60
    # The list of all open chats shows the same; a chat not in the queue has no wait.
    every = {c.session_id: c for c in await active_chats(services)}
    assert every[english].last_visitor_message == first.last_visitor_message
    assert every[english].waited_seconds == first.waited_seconds
    assert every[with_assistant.session_id].last_visitor_message == "a che ora aprite?"
    assert every[with_assistant.session_id].waited_seconds is None


async def test_a_long_question_reaches_the_list_as_a_preview(services: Services) -> None:
    """A visitor's long message is cut to a one-line preview for the list row."""
    services = manual(services)
    await online_operator(services)
    words = "il mio biglietto per la mostra di domenica non arriva via mail\n" * 20
    await queued_chat(services, words.strip())

    (chat,) = await pending_chats(services)

    assert chat.last_visitor_message is not None
    assert len(chat.last_visitor_message) <= PREVIEW_LENGTH
    assert chat.last_visitor_message.endswith("…")
    assert chat.last_visitor_message.startswith("il mio biglietto per la mostra di domenica")
    assert "\n" not in chat.last_visitor_message


# --- round trips on SQL -------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
async def sql_database(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[SqlDatabase]:
    """An empty SQLite file or the run's emptied Postgres database."""
    if request.param == "sqlite":
        async with open_sqlite(tmp_path) as database:
            yield database
    else:
        url: str = request.getfixturevalue("postgres_url")
        async with open_postgres(url) as database:
            yield database


async def selects(database: SqlDatabase, services: Services) -> int:
    """How many SELECTs one read of the waiting list runs."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        if sql.lstrip().upper().startswith("SELECT"):
            seen.append(sql)

    event.listen(database.engine.sync_engine, "before_cursor_execute", record)
    try:
        listed = await pending_chats(services)
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", record)
    assert all(c.last_visitor_message for c in listed)
    return len(seen)


async def test_the_waiting_list_reads_in_bulk(
    services: Services, sql_database: SqlDatabase
) -> None:
    """Listing eight waiting chats takes as many SELECTs as listing one (no query per chat)."""
    services = attrs.evolve(manual(services), uow=sql_database)
    await online_operator(services)
    await queued_chat(services, "il QR non funziona")
    one = await selects(sql_database, services)
    for n in range(7):
        await queued_chat(services, f"domanda numero {n}")
    eight = await selects(sql_database, services)
    assert eight == one
    assert one <= 8
