"""`lucine chats list|show|take|reply|close`, on SQLite and Postgres."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest
from typer.testing import Result

from lucine_core.enums import AuditAction, Availability, Role
from lucine_core.services import Services
from lucine_core.services.chat import visitor_message
from lucine_core.services.handoff import request_operator, take_chat
from lucine_core.services.operators import set_availability, update_operator
from tests.cli import cli_database, invoke, on_database, snapshot
from tests.conftest import make_operator

__all__ = ["cli_database"]

ROME = ZoneInfo("Europe/Rome")


@attrs.frozen
class Chats:
    """The arranged chats: queued (nobody holds it), held by ada, with the assistant."""

    queued: str
    held: str
    assistant: str


async def _arrange(services: Services) -> Chats:
    ada = await make_operator(services, "ada")
    await make_operator(services, "bob")
    await make_operator(services, "root", role=Role.ADMIN)
    zed = await make_operator(services, "zed")
    await update_operator(services, actor_id=None, operator_id=zed, disabled=True)
    await set_availability(services, operator_id=ada, availability=Availability.ONLINE)

    async def chat(*texts: str) -> str:
        sid = None
        for text in texts:
            sid = (await visitor_message(services, text=text, session_id=sid)).session_id
        assert sid is not None
        return sid

    queued = await chat("Buonasera", "Posso portare il cane?")
    assert (await request_operator(services, session_id=queued)).outcome == "queued"
    assistant = await chat("A che ora aprite?")
    held = await chat("Ho perso il biglietto")
    await take_chat(services, operator_id=ada, session_id=held)
    return Chats(queued=queued, held=held, assistant=assistant)


@pytest.fixture
def chats(cli_database: str, monkeypatch: pytest.MonkeyPatch) -> Chats:
    """Four accounts (ada online, bob, admin root, zed disabled) and three open chats."""
    # Queued chats stay queued: nobody is handed them behind the test's back.
    monkeypatch.setenv("LUCINE_AUTO_ASSIGN", "0")
    monkeypatch.delenv("LUCINE_OPERATOR", raising=False)
    return on_database(_arrange)


def _json(*args: str) -> Any:
    """The JSON a `chats` command prints: --json goes right after the command's name."""
    result = invoke(*args[:2], "--json", *args[2:])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _listed(*args: str) -> list[str]:
    return [row["session_id"] for row in _json("chats", "list", *args)]


def _refused(result: Result, *needles: str) -> None:
    """Exit 2 with one `error:` line on stderr that names every needle, nothing on stdout."""
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: "), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr
    assert result.stdout == ""


def test_list_shows_open_chats_newest_activity_first(chats: Chats) -> None:
    """Every open chat with its state, holder, wait, language, dates and last question."""
    rows = {row["session_id"]: row for row in _json("chats", "list")}
    assert list(rows) == [chats.held, chats.assistant, chats.queued]
    queued, held, assistant = rows[chats.queued], rows[chats.held], rows[chats.assistant]
    assert (queued["status"], queued["operator"], queued["queue_position"]) == ("ACTIVE", None, 1)
    assert isinstance(queued["waited_seconds"], int)
    assert queued["last_visitor_message"] == "Posso portare il cane?"
    assert (held["status"], held["operator"], held["waited_seconds"]) == (
        "WITH_OPERATOR",
        "ada",
        None,
    )
    assert assistant["status"] == "ACTIVE"
    assert assistant["waited_seconds"] is None
    assert {row["language"] for row in rows.values()} == {"it"}
    for row in rows.values():
        created = datetime.fromisoformat(row["created_at"])
        assert created.utcoffset() == created.astimezone(ROME).utcoffset()
        assert datetime.fromisoformat(row["last_activity_at"]) >= created


def test_list_filters_by_status_operator_and_limit(
    chats: Chats, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--status (any case, repeatable), --operator and --limit each narrow the list."""
    assert _listed("--status", "with_operator") == [chats.held]
    assert _listed("--status", "RESOLVED", "--status", "ended") == []
    assert _listed("--operator", "ada") == [chats.held]
    assert _listed("--operator", "bob") == []
    assert _listed("--limit", "1") == [chats.held]
    monkeypatch.setenv("COLUMNS", "250")
    table = invoke("chats", "list", "--status", "with_operator")
    assert table.exit_code == 0, table.output
    assert chats.held in table.stdout
    assert "ada" in table.stdout
    assert "Ho perso il biglietto" in table.stdout
    assert chats.queued not in table.stdout


def test_list_refuses_unknown_status_operator_and_bad_limit(chats: Chats) -> None:
    """An unknown state or operator, or a limit out of range: exit 2, one line, no change."""
    before = snapshot()
    _refused(invoke("chats", "list", "--status", "open"), "'open'", "with_operator")
    _refused(invoke("chats", "list", "--operator", "ghost"), "'ghost'")
    _refused(invoke("chats", "list", "--limit", "0"), "--limit")
    assert snapshot() == before


def test_take_reply_close_and_the_whole_history(
    chats: Chats, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An operator takes, answers and closes a chat; `show` has all of it, audited once."""
    took = invoke("chats", "take", "--as", "ADA", "--", chats.queued)
    assert took.exit_code == 0, took.output
    assert took.stdout == f"ada took chat {chats.queued}\n"
    row = next(r for r in _json("chats", "list") if r["session_id"] == chats.queued)
    assert (row["status"], row["operator"], row["queue_position"]) == ("WITH_OPERATOR", "ada", None)

    monkeypatch.setenv("LUCINE_OPERATOR", "ada")
    replied = invoke("chats", "reply", "--", chats.queued, "Sì, al guinzaglio [e con museruola]")
    assert replied.exit_code == 0, replied.output
    assert replied.stdout == f"ada wrote to the visitor of chat {chats.queued}\n"
    closed = invoke(
        "chats", "close", "--status", "not_resolved", "--note", "richiamare", "--", chats.queued
    )
    assert closed.exit_code == 0, closed.output
    assert closed.stdout == f"ada closed chat {chats.queued} as NOT_RESOLVED\n"
    assert _listed("--status", "not_resolved") == [chats.queued]
    assert chats.queued not in _listed()

    shown = _json("chats", "show", "--", chats.queued)
    assert (shown["status"], shown["operator"], shown["language"]) == ("NOT_RESOLVED", "ada", "it")
    said = [(m["sender"], m["operator"], m["text"]) for m in shown["messages"]]
    assert said[:2] == [("USER", None, "Buonasera"), ("BOT", None, said[1][2])]
    assert ("USER", None, "Posso portare il cane?") in said
    assert ("OPERATOR", "ada", "Sì, al guinzaglio [e con museruola]") in said
    assert [m["seq"] for m in shown["messages"]] == list(range(1, len(said) + 1))
    assert [(n["operator"], n["text"]) for n in shown["notes"]] == [("ada", "richiamare")]
    moves = [(c["from"], c["to"], c["actor"], c["reason"]) for c in shown["changes"]]
    assert ("ACTIVE", "WITH_OPERATOR", "operator:ada", "manual") in moves
    assert moves[-1] == ("WITH_OPERATOR", "NOT_RESOLVED", "operator:ada", "richiamare")
    assert all(datetime.fromisoformat(c["at"]).tzinfo is not None for c in shown["changes"])

    # The read is audited as the system, once per window: a second read adds nothing.
    async def views(services: Services) -> list[str]:
        async with services.uow(read_only=True) as uow:
            entries = await uow.audit.list(subject=chats.queued)
        return [e.actor for e in entries if e.action is AuditAction.VIEW_HISTORY]

    assert on_database(views) == ["system"]
    before = snapshot()
    monkeypatch.setenv("COLUMNS", "250")
    table = invoke("chats", "show", "--", chats.queued)
    assert table.exit_code == 0, table.output
    for text in ("NOT_RESOLVED", "Sì, al guinzaglio [e con museruola]", "richiamare", "manual"):
        assert text in table.stdout
    assert snapshot() == before


def test_show_names_an_unknown_session(chats: Chats) -> None:
    """An unknown session is exit 2 naming it, and nothing is audited."""
    before = snapshot()
    _refused(invoke("chats", "show", "nope"), "'nope'")
    assert snapshot() == before


def test_take_refusals_change_nothing(chats: Chats) -> None:
    """Someone else's chat, a disabled, unknown or missing operator: exit 2, one line."""
    before = snapshot()
    _refused(invoke("chats", "take", "--as", "bob", "--", chats.held), "already taken")
    _refused(invoke("chats", "take", "--as", "zed", "--", chats.queued), "'zed'", "disabled")
    _refused(invoke("chats", "take", "--as", "ghost", "--", chats.queued), "'ghost'")
    _refused(invoke("chats", "take", "--", chats.queued), "--as")
    _refused(invoke("chats", "take", "--as", "bob", "nope"), "'nope'")
    assert snapshot() == before


def test_reply_refusals_change_nothing(chats: Chats) -> None:
    """Not the holder, empty or too long text, an unknown chat: exit 2, one line."""
    before = snapshot()
    _refused(invoke("chats", "reply", "--as", "bob", "--", chats.held, "ciao"), "not allowed")
    _refused(invoke("chats", "reply", "--as", "ada", "--", chats.held, "  "), "empty")
    _refused(invoke("chats", "reply", "--as", "ada", "--", chats.held, "a" * 2001), "2000")
    _refused(invoke("chats", "reply", "--as", "ada", "nope", "ciao"), "'nope'")
    assert snapshot() == before


def test_close_refusals_change_nothing(chats: Chats) -> None:
    """Not the holder, a chat nobody holds, a status that does not close: exit 2, one line."""
    before = snapshot()
    _refused(invoke("chats", "close", "--as", "bob", "--", chats.held), "not allowed")
    _refused(invoke("chats", "close", "--as", "ada", "--", chats.assistant), "not allowed")
    _refused(
        invoke("chats", "close", "--as", "ada", "--status", "ended", "--", chats.held),
        "'ended'",
        "not_resolved",
    )
    assert snapshot() == before


def test_an_admin_closes_anyones_chat(chats: Chats) -> None:
    """As on the dashboard, an admin may close a chat another operator holds."""
    closed = invoke("chats", "close", "--as", "root", "--", chats.held)
    assert closed.exit_code == 0, closed.output
    shown = _json("chats", "show", "--", chats.held)
    assert shown["status"] == "RESOLVED"
    assert shown["changes"][-1]["actor"] == "operator:root"
