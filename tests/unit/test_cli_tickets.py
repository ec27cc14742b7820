"""`lucine tickets list|show|update` on both databases."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest

from lucine_adapters.system import FixedClock
from lucine_core.enums import TicketPriority
from lucine_core.services import Services
from lucine_core.services.chat import visitor_message
from lucine_core.services.operators import create_operator
from lucine_core.services.tickets import create_ticket, create_ticket_from_widget
from lucine_core.tickets import Contact
from tests.cli import cli_database, invoke, on_database, snapshot
from tests.conftest import PASSWORD

__all__ = ["cli_database"]


@attrs.frozen(kw_only=True)
class Arranged:
    """The ids of what `_arrange` made."""

    late: str
    fresh: str
    anna: str


async def _arrange(services: Services) -> Arranged:
    """An overdue widget ticket from a two-day-old chat, and a fresh one by Anna."""
    anna = await create_operator(
        services, actor_id=None, username="anna", display_name="Anna", password=PASSWORD
    )
    then = attrs.evolve(services, clock=FixedClock(datetime.now(UTC) - timedelta(days=2)))
    chat = await visitor_message(then, text="Ho perso i biglietti del 20", session_id=None)
    late = await create_ticket_from_widget(
        then,
        session_id=chat.session_id,
        message="Biglietti persi\nNon trovo la mail di conferma",
        email="Mario@Example.com",
    )
    fresh = await create_ticket(
        services,
        operator_id=anna.id,
        subject="Richiamare [urgente]",
        description="Ha telefonato per il parcheggio",
        priority=TicketPriority.URGENT,
        contact=Contact(name="Lucia", phone="+393331234567"),
    )
    return Arranged(late=late.id, fresh=fresh.id, anna=anna.id)


def _json(*args: str) -> Any:
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_list_and_show_a_ticket_with_its_sla_contact_and_transcript(
    cli_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The listing is newest first with SLA, contact and operator; show adds the transcript."""
    made = on_database(_arrange)
    listed = _json("tickets", "list", "--json")
    assert [t["id"] for t in listed] == [made.fresh, made.late]
    fresh, late = listed
    assert (late["sla"], late["sla_breached"]) == ("breached", True)
    assert (fresh["sla"], fresh["sla_breached"]) == ("ok", False)
    assert late["contact"]["email"] == "mario@example.com"
    assert (fresh["operator"], late["operator"]) == ("anna", None)
    assert datetime.fromisoformat(late["due_at"]) < datetime.now(UTC)
    monkeypatch.setenv("COLUMNS", "250")
    table = invoke("tickets", "list")
    assert table.exit_code == 0, table.output
    assert "Richiamare [urgente]" in table.stdout  # shown as typed, not read as markup
    assert "BREACHED" in table.stdout
    assert "mario@example.com" in table.stdout
    shown = _json("tickets", "show", made.late, "--json")
    assert shown["subject"] == "Biglietti persi"
    assert shown["transcript"][0] == {
        "sender": "USER",
        "text": "Ho perso i biglietti del 20",
        "at": shown["transcript"][0]["at"],
    }
    text = invoke("tickets", "show", made.late)
    assert text.exit_code == 0, text.output
    assert "transcript:" in text.stdout
    assert "USER: Ho perso i biglietti del 20" in text.stdout
    assert "Non trovo la mail di conferma" in text.stdout


def test_update_changes_status_priority_and_operator_audited_as_system(
    cli_database: str,
) -> None:
    """An update is applied, filters the listing by status, and is audited as the system."""
    made = on_database(_arrange)
    done = invoke("tickets", "update", made.late, "--status", "in_progress", "--priority", "high")
    assert done.exit_code == 0, done.output
    assert done.stdout.strip() == (f"updated ticket {made.late}: status IN_PROGRESS, priority HIGH")
    assigned = invoke("tickets", "update", made.late, "--assign", "anna")
    assert assigned.exit_code == 0, assigned.output
    shown = _json("tickets", "show", made.late, "--json")
    assert (shown["status"], shown["priority"]) == ("IN_PROGRESS", "HIGH")
    assert (shown["operator"], shown["operator_id"]) == ("anna", made.anna)
    working = _json("tickets", "list", "--status", "IN_PROGRESS", "--json")
    assert [t["id"] for t in working] == [made.late]
    both = _json("tickets", "list", "--status", "open", "--status", "in_progress", "--json")
    assert len(both) == 2
    assert [t["id"] for t in _json("tickets", "list", "--limit", "1", "--json")] == [made.fresh]
    trail = _json("audit", "--subject", made.late, "--json")
    assert [(e["actor"], e["action"]) for e in trail] == [("system", "update_ticket")] * 2
    assert trail[1]["details"] == {"status": "IN_PROGRESS", "priority": "HIGH"}


def test_bad_updates_and_lookups_are_refused_in_one_line_changing_nothing(
    cli_database: str,
) -> None:
    """Nothing to change, unknown ticket/status/priority/operator, out of CLOSED: exit 2."""
    made = on_database(_arrange)
    closed = invoke("tickets", "update", made.fresh, "--status", "closed")
    assert closed.exit_code == 0, closed.output
    before = snapshot()
    for argv, needle in [
        (["update", made.late], "nothing to change"),
        (["update", "NOPE", "--status", "open"], "no ticket 'NOPE'"),
        (["update", made.late, "--status", "done"], "--status: 'done'"),
        (["update", made.late, "--priority", "whenever"], "--priority"),
        (["update", made.late, "--assign", "nobody"], "no operator 'nobody'"),
        (["update", made.late, "--assign", "Not A Name!"], "username"),
        (["update", made.fresh, "--status", "open"], "CLOSED ticket cannot become OPEN"),
        (["show", "NOPE"], "no ticket 'NOPE'"),
        (["list", "--status", "done"], "--status"),
        (["list", "--limit", "0"], "limit"),
    ]:
        refused = invoke("tickets", *argv)
        assert refused.exit_code == 2, (argv, refused.output)
        assert refused.stdout == "", (argv, refused.output)
        assert refused.stderr.startswith("error: "), (argv, refused.stderr)
        assert refused.stderr.strip().count("\n") == 0, (argv, refused.stderr)
        assert needle in refused.stderr, (argv, refused.stderr)
    assert snapshot() == before
