"""`lucine gdpr export|erase|purge` and `lucine audit` on both databases."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest

from lucine_adapters.system import FixedClock
from lucine_cli.common import load_settings
from lucine_core.enums import TicketPriority
from lucine_core.services import Services
from lucine_core.services.chat import visitor_message
from lucine_core.services.operators import create_operator
from lucine_core.services.tickets import create_ticket, create_ticket_from_widget
from lucine_core.tickets import Contact
from tests.cli import cli_database, invoke, on_database, snapshot
from tests.conftest import PASSWORD

__all__ = ["cli_database"]

EMAIL = "mario@example.com"


@attrs.frozen(kw_only=True)
class Arranged:
    """What `_arrange` made."""

    with_ticket: str
    other: str
    anna: str


async def _arrange(services: Services) -> Arranged:
    """A chat whose visitor left a ticket with their e-mail, another chat, and Anna."""
    anna = await create_operator(
        services, actor_id=None, username="anna", display_name="Anna", password=PASSWORD
    )
    first = await visitor_message(services, text="Ho perso i biglietti", session_id=None)
    await create_ticket_from_widget(
        services, session_id=first.session_id, message="Rimandatemi i biglietti", email=EMAIL
    )
    other = await visitor_message(services, text="Dove si parcheggia?", session_id=None)
    return Arranged(with_ticket=first.session_id, other=other.session_id, anna=anna.id)


def _ok(*args: str, input: str | None = None) -> str:
    result = invoke(*args, input=input)
    assert result.exit_code == 0, result.output
    return result.stdout


def _trail(*args: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads(_ok("audit", "--json", *args))
    return entries


def _refused(argv: list[str], needle: str, *, code: int = 2, answer: str | None = None) -> None:
    """Exit ``code`` with one `error:` line naming ``needle`` (after the question, if asked)."""
    result = invoke(*argv, input=answer)
    assert result.exit_code == code, (argv, result.output)
    asked, said, message = result.stderr.rpartition("error: ")
    assert said, (argv, result.stderr)
    # The question, when asked, is on stderr before the error line; stdout stays empty.
    assert asked.startswith("Erase ") if answer else asked == "", (argv, result.stderr)
    assert message.endswith("\n"), (argv, result.stderr)
    assert "\n" not in message.rstrip("\n"), (argv, result.stderr)
    assert needle in message, (argv, result.stderr)
    assert result.stdout == "", (argv, result.stdout)


def test_export_a_session_or_a_contact_printed_or_to_a_file(
    cli_database: str, tmp_path: Path
) -> None:
    """The export is the core's JSON, on stdout or in --output, and is audited as system."""
    made = on_database(_arrange)
    chat = json.loads(_ok("gdpr", "export", "--session", made.with_ticket))
    assert chat["session"]["id"] == made.with_ticket
    assert chat["messages"][0]["text"] == "Ho perso i biglietti"
    assert [t["contact"]["email"] for t in chat["tickets"]] == [EMAIL]
    out = tmp_path / "mario.json"
    said = _ok("gdpr", "export", "--email", "Mario@Example.com", "--output", str(out))
    assert said.strip() == f"exported everything about Mario@Example.com to {out}"
    contact = json.loads(out.read_text(encoding="utf-8"))
    assert contact["email"] == EMAIL
    assert [s["session"]["id"] for s in contact["sessions"]] == [made.with_ticket]
    exports = _trail("--actor", "system", "--limit", "2")
    assert [(e["action"], e["actor"]) for e in exports] == [("export", "system")] * 2
    assert exports[1]["subject"] == made.with_ticket
    assert EMAIL not in exports[0]["subject"]  # a hash of the address, not the address


def test_bad_exports_are_refused_in_one_line_changing_nothing(
    cli_database: str, tmp_path: Path
) -> None:
    """Neither or both targets, an unknown chat, a bad address, a bad --output: exit 2."""
    made = on_database(_arrange)
    before = snapshot()
    for argv, needle in [
        (["gdpr", "export"], "exactly one of --session or --email"),
        (["gdpr", "export", "--session", made.other, "--email", EMAIL], "exactly one"),
        (["gdpr", "export", "--session", "nope"], "no session 'nope'"),
        (["gdpr", "export", "--email", "not-an-address"], "email"),
        (
            ["gdpr", "export", "--session", made.other, "--output", str(tmp_path / "no/x.json")],
            "--output",
        ),
        (["gdpr", "erase", "--yes"], "exactly one"),
        (["gdpr", "erase", "--session", "nope", "--yes"], "no session 'nope'"),
        (["gdpr", "erase", "--email", "@", "--yes"], "email"),
    ]:
        _refused(argv, needle)
    assert snapshot() == before


def test_erase_asks_first_and_declining_changes_nothing(cli_database: str) -> None:
    """Answering n is exit 1 `not erased` with every row kept; y erases that chat only."""
    made = on_database(_arrange)
    before = snapshot()
    _refused(["gdpr", "erase", "--session", made.other], "not erased", code=1, answer="n\n")
    assert snapshot() == before
    said = _ok("gdpr", "erase", "--session", made.other, input="y\n")
    assert said.startswith(f"erased session {made.other}: ")
    _refused(["gdpr", "export", "--session", made.other], f"no session {made.other!r}")
    assert json.loads(_ok("gdpr", "export", "--session", made.with_ticket))["messages"]
    erased = _trail("--subject", made.other)
    assert [(e["action"], e["actor"]) for e in erased] == [("erase", "system")]


def test_erase_a_contact_removes_their_tickets_and_chats(cli_database: str) -> None:
    """--email --yes erases the contact's chat and ticket, and leaves the other chat."""
    made = on_database(_arrange)
    said = _ok("gdpr", "erase", "--email", EMAIL, "--yes")
    assert said.startswith(f"erased everything about {EMAIL}: ")
    assert json.loads(_ok("tickets", "list", "--json")) == []
    _refused(["gdpr", "export", "--session", made.with_ticket], f"no session {made.with_ticket!r}")
    assert json.loads(_ok("gdpr", "export", "--session", made.other))["messages"]


async def _arrange_old(services: Services) -> tuple[str, str]:
    """A chat (and an audit line) from 400 days ago, past every retention, and a new chat."""
    then = attrs.evolve(services, clock=FixedClock(datetime.now(UTC) - timedelta(days=400)))
    await create_operator(
        then, actor_id=None, username="old", display_name="Old", password=PASSWORD
    )
    old = await visitor_message(then, text="Ciao dall'anno scorso", session_id=None)
    new = await visitor_message(services, text="Ciao da oggi", session_id=None)
    return old.session_id, new.session_id


def test_purge_removes_what_the_retention_no_longer_keeps(cli_database: str) -> None:
    """Only the 400-day-old chat and audit line go; the purge is audited; again, nothing."""
    old, new = on_database(_arrange_old)
    said = _ok("gdpr", "purge")
    assert said.startswith("purged 1 chats older than 365 days, ")
    assert "1 audit lines older than 90 days" in said
    _refused(["gdpr", "export", "--session", old], f"no session {old!r}")
    assert json.loads(_ok("gdpr", "export", "--session", new))["session"]["id"] == new
    purges = [e for e in _trail() if e["action"] == "purge"]
    assert [(e["actor"], e["details"]["sessions"]) for e in purges] == [("system", "1")]
    assert _ok("gdpr", "purge").startswith("purged 0 chats")


def test_audit_filters_by_time_actor_and_subject(
    cli_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--since (a local day or an ISO time), --actor (a username too), --subject, --limit."""
    made = on_database(_arrange)
    ticket = on_database(
        lambda services: create_ticket(
            services,
            operator_id=made.anna,
            subject="Richiamare",
            description="Al telefono",
            priority=TicketPriority.LOW,
            contact=Contact(phone="+393331234567"),
        )
    )
    _ok("gdpr", "export", "--session", made.other)
    everything = _trail()
    assert everything[0]["action"] == "export"  # newest first
    assert everything[1]["action"] == "create_ticket"
    assert {e["actor"] for e in everything} == {"system", f"operator:{made.anna}"}
    today = datetime.now(ZoneInfo(load_settings().timezone)).date()
    assert len(_trail("--since", today.isoformat())) == len(everything) + 1  # reads audited
    assert _trail("--since", (today + timedelta(days=1)).isoformat()) == []
    assert _trail("--since", "2000-01-01T00:00:00+00:00", "--limit", "1")[0]["action"] == (
        "view_audit"
    )
    by_anna = [(e["action"], e["subject"]) for e in _trail("--actor", "anna")]
    assert by_anna == [("create_ticket", ticket.id)]
    assert [e["subject"] for e in _trail("--actor", f"operator:{made.anna}")] == [ticket.id]
    assert "create_ticket" not in {e["action"] for e in _trail("--actor", "system")}
    assert _trail("--subject", made.other)[0]["action"] == "export"
    monkeypatch.setenv("COLUMNS", "200")
    table = _ok("audit", "--limit", "1000")
    assert "create_operator" in table
    assert made.anna in table  # the account's id, as the subject of its creation
    assert "│ anna " in table  # the actor by username
    before = snapshot()
    for argv, needle in [
        (["audit", "--since", "yesterday"], "--since 'yesterday'"),
        (["audit", "--since", "2026-13-01"], "--since"),
        (["audit", "--actor", "nobody"], "no operator 'nobody'"),
        (["audit", "--limit", "0"], "--limit"),
    ]:
        _refused(argv, needle)
    assert snapshot() == before
