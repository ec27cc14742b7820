"""`lucine tickets`: list, read and update the follow-ups that outlive a chat.

The command line acts as the machine's administrator: an update is audited as ``system``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import attrs
import typer

from lucine_cli.common import database_services, fail, load_settings, run
from lucine_cli.display import choice, echo_json, iso, local_zone, short, usernames
from lucine_core.enums import TicketPriority, TicketStatus
from lucine_core.services import Services
from lucine_core.services.operators import operator_named
from lucine_core.services.tickets import get_ticket, list_tickets, ticket_sla, update_ticket
from lucine_core.sla import SlaCheck
from lucine_core.tickets import Contact, Ticket

__all__ = ["tickets_app"]

tickets_app = typer.Typer(
    name="tickets", help="Tickets: follow-ups that outlive a chat.", no_args_is_help=True
)


def _contact(contact: Contact) -> str:
    return " ".join(part for part in (contact.name, contact.email, contact.phone) if part)


@attrs.frozen(kw_only=True)
class _Shown:
    """A ticket with what it takes to show it: its SLA now and its operator's name."""

    ticket: Ticket
    sla: SlaCheck
    operator: str | None


async def _shown(services: Services, tickets: Sequence[Ticket]) -> list[_Shown]:
    names = await usernames(services)
    return [
        _Shown(
            ticket=t,
            sla=ticket_sla(services, t),
            operator=names.get(t.operator_id, t.operator_id) if t.operator_id else None,
        )
        for t in tickets
    ]


def _plain(shown: _Shown, zone: ZoneInfo) -> dict[str, Any]:
    ticket = shown.ticket
    return {
        "id": ticket.id,
        "subject": ticket.subject,
        "description": ticket.description,
        "status": ticket.status.value,
        "priority": ticket.priority.value,
        "source": ticket.source.value,
        "contact": attrs.asdict(ticket.contact),
        "session_id": ticket.session_id,
        "operator_id": ticket.operator_id,
        "operator": shown.operator,
        "created_at": iso(ticket.created_at, zone),
        "updated_at": iso(ticket.updated_at, zone),
        "due_at": iso(ticket.due_at, zone),
        "resolved_at": iso(ticket.resolved_at, zone),
        "sla": shown.sla.state.value,
        "sla_breached": shown.sla.is_late,
        "transcript": [
            {"sender": line.sender.value, "text": line.text, "at": iso(line.at, zone)}
            for line in ticket.transcript
        ],
    }


@tickets_app.command("list")
def list_command(
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status", help="Only tickets in this status (repeat for several).", show_default=False
        ),
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many (1-500).")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array.")] = False,
) -> None:
    """Tickets, newest first: status, priority, due time and SLA, contact, operator."""
    statuses = [choice(TicketStatus, s, "--status") for s in status or ()]
    settings = load_settings()
    zone = local_zone(settings)

    async def read() -> list[_Shown]:
        async with database_services(settings, writes=False) as services:
            found = await list_tickets(services, statuses=statuses or None, limit=limit)
            return await _shown(services, found)

    shown = run(read())
    if as_json:
        echo_json([_plain(s, zone) for s in shown])
        return
    # Imported here: rich draws the table, and only the listings need it.
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415
    from rich.text import Text  # noqa: PLC0415

    table = Table()
    table.add_column("id", no_wrap=True)  # whole, to be copied into `tickets show`
    for name in ("subject", "status", "priority", "due", "sla", "contact", "operator", "created"):
        table.add_column(name, overflow="fold")
    for s in shown:
        t = s.ticket
        # Text(), not str: a visitor's "[...]" is shown as typed, never read as markup.
        table.add_row(
            t.id,
            Text(t.subject),
            t.status.value,
            t.priority.value,
            short(t.due_at, zone),
            "BREACHED" if s.sla.is_late else s.sla.state.value,
            Text(_contact(t.contact)),
            s.operator or "",
            short(t.created_at, zone),
        )
    Console().print(table)


_TICKET_ID = typer.Argument(help="The ticket's id.", show_default=False)


@tickets_app.command("show")
def show(
    ticket_id: Annotated[str, _TICKET_ID],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """One ticket with everything: description, contact, SLA and the chat's last lines."""
    settings = load_settings()
    zone = local_zone(settings)

    async def read() -> _Shown:
        async with database_services(settings, writes=False) as services:
            return (await _shown(services, [await get_ticket(services, ticket_id=ticket_id)]))[0]

    shown = run(read())
    if as_json:
        echo_json(_plain(shown, zone))
        return
    ticket = shown.ticket
    for label, value in _fields(shown, zone).items():
        typer.echo(f"{label + ':':<12}{value}")
    typer.echo("description:")
    for text in ticket.description.splitlines():
        typer.echo(f"  {text}")
    if ticket.transcript:
        typer.echo("transcript:")
    for line in ticket.transcript:
        typer.echo(f"  {short(line.at, zone)} {line.sender.value}: {line.text}")


def _fields(shown: _Shown, zone: ZoneInfo) -> Mapping[str, str]:
    ticket = shown.ticket
    return {
        "ticket": ticket.id,
        "subject": ticket.subject,
        "status": ticket.status.value,
        "priority": ticket.priority.value,
        "source": ticket.source.value,
        "contact": _contact(ticket.contact),
        "operator": shown.operator or "",
        "chat": ticket.session_id or "",
        "created": short(ticket.created_at, zone),
        "updated": short(ticket.updated_at, zone),
        "due": f"{short(ticket.due_at, zone)} (sla {shown.sla.state.value})",
        "resolved": short(ticket.resolved_at, zone),
    }


@tickets_app.command("update")
def update(
    ticket_id: Annotated[str, _TICKET_ID],
    status: Annotated[
        str | None, typer.Option(help="OPEN, IN_PROGRESS, WAITING_CUSTOMER, RESOLVED or CLOSED.")
    ] = None,
    priority: Annotated[str | None, typer.Option(help="URGENT, HIGH, MEDIUM or LOW.")] = None,
    assign: Annotated[
        str | None, typer.Option("--assign", help="Give it to the operator with this username.")
    ] = None,
) -> None:
    """Change a ticket's status, priority or operator (CLOSED is final)."""
    if status is None and priority is None and assign is None:
        fail("nothing to change: give --status, --priority or --assign")
    new_status = choice(TicketStatus, status, "--status") if status is not None else None
    new_priority = choice(TicketPriority, priority, "--priority") if priority is not None else None
    settings = load_settings()

    async def change() -> Ticket:
        async with database_services(settings, writes=False) as services:
            found = await operator_named(services, assign) if assign is not None else None
            return await update_ticket(
                services,
                operator_id=None,
                ticket_id=ticket_id,
                status=new_status,
                priority=new_priority,
                assign_to=found.id if found else None,
            )

    ticket = run(change())
    done = [f"status {ticket.status.value}", f"priority {ticket.priority.value}"]
    if assign is not None:
        done.append(f"operator {assign}")
    typer.echo(f"updated ticket {ticket.id}: {', '.join(done)}")
