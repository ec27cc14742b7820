"""/api/tickets: operators create, list, read and update tickets."""

# Litestar reads handler annotations at run time: no postponed evaluation here.

from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Router, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, QueryParameter

from lucine_core.enums import TicketPriority, TicketStatus
from lucine_core.operators import Operator
from lucine_core.services.tickets import (
    create_ticket,
    get_ticket,
    list_tickets,
    ticket_sla,
    update_ticket,
)
from lucine_core.tickets import Contact, Ticket
from lucine_http.deps import App, current_operator
from lucine_http.routes.operators import SlaOut
from lucine_http.schemas import Camel

__all__ = [
    "ContactOut",
    "Description",
    "Subject",
    "TicketOut",
    "TranscriptLineOut",
    "router",
    "ticket_out",
]

Subject = Annotated[str, msgspec.Meta(max_length=200)]
Description = Annotated[str, msgspec.Meta(max_length=5000)]


class ContactOut(Camel):
    """How to reach the visitor."""

    name: str | None
    email: str | None
    phone: str | None


class TranscriptLineOut(Camel):
    """A chat message copied into the ticket (the widget's message shape)."""

    sender: str
    message: str
    timestamp: datetime


class TicketOut(Camel):
    """A ticket with its resolution clock."""

    id: str
    subject: str
    description: str
    priority: str
    status: str
    source: str
    contact: ContactOut
    session_id: str | None
    operator_id: str | None
    created_at: datetime
    updated_at: datetime
    due_at: datetime
    resolved_at: datetime | None
    transcript: list[TranscriptLineOut]
    sla: SlaOut


class TicketIn(Camel):
    """A ticket opened by hand (a phone call, an e-mail): e-mail or phone is required."""

    subject: Subject
    description: Description
    priority: TicketPriority
    email: Annotated[str, msgspec.Meta(max_length=254)] | None = None
    phone: Annotated[str, msgspec.Meta(max_length=40)] | None = None
    name: Annotated[str, msgspec.Meta(max_length=120)] | None = None


class TicketPatch(Camel):
    """What to change; absent fields stay as they are."""

    status: TicketStatus | None = None
    priority: TicketPriority | None = None
    assign_to: Annotated[str, msgspec.Meta(max_length=64)] | None = None


def ticket_out(ticket: Ticket, app: App) -> TicketOut:
    """The wire form of a ticket; the SLA is measured at the services' clock."""
    sla = ticket_sla(app.services, ticket)
    contact = ticket.contact
    return TicketOut(
        id=ticket.id,
        subject=ticket.subject,
        description=ticket.description,
        priority=ticket.priority.value,
        status=ticket.status.value,
        source=ticket.source.value,
        contact=ContactOut(name=contact.name, email=contact.email, phone=contact.phone),
        session_id=ticket.session_id,
        operator_id=ticket.operator_id,
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        due_at=ticket.due_at,
        resolved_at=ticket.resolved_at,
        transcript=[
            TranscriptLineOut(sender=line.sender.value, message=line.text, timestamp=line.at)
            for line in ticket.transcript
        ],
        sla=SlaOut(state=sla.state.value, due_at=sla.due_at),
    )


@post("/", status_code=201, summary="Open a ticket by hand")
async def create_route(
    data: JSONBody[TicketIn], app: NamedDependency[App], me: NamedDependency[Operator]
) -> TicketOut:
    """An e-mail address or a phone number is required."""
    contact = Contact.parse(name=data.name, email=data.email, phone=data.phone)
    ticket = await create_ticket(
        app.services,
        operator_id=me.id,
        subject=data.subject,
        description=data.description,
        priority=data.priority,
        contact=contact,
    )
    return ticket_out(ticket, app)


@get("/", summary="Tickets, newest first")
async def list_route(
    app: NamedDependency[App],
    me: NamedDependency[Operator],
    status: Annotated[
        list[TicketStatus] | None,
        QueryParameter(description="Only these statuses (repeat the parameter for several)"),
    ] = None,
    limit: Annotated[int, QueryParameter(description="Page size, 1-500")] = 50,
    offset: Annotated[int, QueryParameter(description="Tickets to skip")] = 0,
) -> list[TicketOut]:
    """Optionally only some statuses; paged with limit and offset."""
    tickets = await list_tickets(app.services, statuses=status, limit=limit, offset=offset)
    return [ticket_out(t, app) for t in tickets]


@get("/{ticket_id:str}", summary="One ticket")
async def get_route(
    ticket_id: FromPath[str], app: NamedDependency[App], me: NamedDependency[Operator]
) -> TicketOut:
    """404 for an unknown id."""
    return ticket_out(await get_ticket(app.services, ticket_id=ticket_id), app)


@patch("/{ticket_id:str}", summary="Change a ticket's status, priority or owner")
async def update_route(
    ticket_id: FromPath[str],
    data: JSONBody[TicketPatch],
    app: NamedDependency[App],
    me: NamedDependency[Operator],
) -> TicketOut:
    """A new priority never moves the promised due time earlier; CLOSED is final (409)."""
    ticket = await update_ticket(
        app.services,
        operator_id=me.id,
        ticket_id=ticket_id,
        status=data.status,
        priority=data.priority,
        assign_to=data.assign_to,
    )
    return ticket_out(ticket, app)


router = Router(
    path="/api/tickets",
    route_handlers=[create_route, list_route, get_route, update_route],
    dependencies={"me": Provide(current_operator)},
    tags=["tickets"],
)
