"""/api/chat-management: close, note, history, lists, tickets, transfer and hand-back."""

# Litestar reads handler annotations at run time: no postponed evaluation here.

from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Router, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, QueryParameter

from lucine_core.enums import SessionStatus, TicketPriority
from lucine_core.operators import Operator
from lucine_core.services.conversation import add_note, hand_back, history, transfer, update_status
from lucine_core.services.dashboard import ChatFilter, active_chats
from lucine_core.services.tickets import create_ticket_from_chat
from lucine_core.services.views import History
from lucine_core.tickets import InternalNote
from lucine_http.deps import App, current_operator
from lucine_http.routes.operators import OperatorOut, SummaryOut, operator_out, summary_out
from lucine_http.routes.tickets import Description, Subject, TicketOut, ticket_out
from lucine_http.schemas import Camel, MessageOut, SessionId, SessionIn, Text, message_out

__all__ = ["HistoryOut", "NoteOut", "history_out", "note_out", "router"]

OperatorId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class UpdateStatusIn(Camel):
    """v2.7: RESOLVED, NOT_RESOLVED or CANCELLED close the chat; ACTIVE hands it back."""

    session_id: SessionId
    status: SessionStatus
    notes: Text | None = None


class NoteIn(Camel):
    """An internal note; the visitor never sees it."""

    session_id: SessionId
    content: Text


class NoteOut(Camel):
    """An internal note."""

    id: str
    session_id: str
    operator_id: str
    content: str
    created_at: datetime


class SessionOut(Camel):
    """A chat session as the history shows it."""

    id: str
    status: str
    language: str
    created_at: datetime
    last_activity_at: datetime
    operator_id: str | None
    rating: int | None
    rating_comment: str | None


class StatusChangeOut(Camel):
    """One line of the session's state history."""

    from_status: str = msgspec.field(name="from")
    to: str
    at: datetime
    actor: str
    reason: str


class HistoryOut(Camel):
    """Everything about one chat an operator may see."""

    session: SessionOut
    messages: list[MessageOut]
    internal_notes: list[NoteOut]
    operators: list[OperatorOut]
    status_changes: list[StatusChangeOut]


class TicketFromChatIn(Camel):
    """Turn the held chat into a ticket; the chat is RESOLVED."""

    session_id: SessionId
    subject: Subject
    description: Description
    priority: TicketPriority = TicketPriority.MEDIUM


class TransferIn(Camel):
    """Move the chat to another operator."""

    session_id: SessionId
    to_operator_id: OperatorId


def note_out(note: InternalNote) -> NoteOut:
    """The wire form of an internal note."""
    return NoteOut(
        id=note.id,
        session_id=note.session_id,
        operator_id=note.operator_id,
        content=note.text,
        created_at=note.at,
    )


def history_out(found: History) -> HistoryOut:
    """The wire form of a chat's history."""
    session = found.session
    return HistoryOut(
        session=SessionOut(
            id=session.id,
            status=session.status.value,
            language=session.language.value,
            created_at=session.created_at,
            last_activity_at=session.last_activity_at,
            operator_id=session.operator_id,
            rating=session.rating,
            rating_comment=session.rating_comment,
        ),
        messages=[message_out(m) for m in found.messages],
        internal_notes=[note_out(n) for n in found.notes],
        operators=[operator_out(o) for o in found.operators],
        status_changes=[
            StatusChangeOut(
                from_status=c.from_status.value,
                to=c.to_status.value,
                at=c.at,
                actor=c.actor,
                reason=c.reason,
            )
            for c in found.changes
        ],
    )


@post("/update-status", status_code=200, summary="Close the chat, or hand it back (ACTIVE)")
async def update_status_route(
    data: JSONBody[UpdateStatusIn], app: NamedDependency[App], me: NamedDependency[Operator]
) -> MessageOut:
    """Returns the system message the visitor sees; notes become an internal note."""
    message = await update_status(
        app.services,
        actor_id=me.id,
        session_id=data.session_id,
        status=data.status,
        note=data.notes,
    )
    return message_out(message)


@post("/add-note", status_code=201, summary="Write an internal note on a chat")
async def add_note_route(
    data: JSONBody[NoteIn], app: NamedDependency[App], me: NamedDependency[Operator]
) -> NoteOut:
    """Notes are for operators only."""
    note = await add_note(
        app.services, operator_id=me.id, session_id=data.session_id, text=data.content
    )
    return note_out(note)


@get("/history/{session_id:str}", summary="Messages, notes, operators and state changes")
async def history_route(
    session_id: FromPath[str], app: NamedDependency[App], me: NamedDependency[Operator]
) -> HistoryOut:
    """Reading a chat's history is audited."""
    return history_out(await history(app.services, operator_id=me.id, session_id=session_id))


@get("/active-chats", summary="Open chats: assigned, unassigned, waiting or all")
async def active_chats_route(
    app: NamedDependency[App],
    me: NamedDependency[Operator],
    chat_filter: Annotated[
        str,
        QueryParameter(
            name="filter", max_length=20, description="assigned, unassigned, waiting or all"
        ),
    ] = "all",
) -> list[SummaryOut]:
    """Waiting chats come in serving order with their queue place."""
    chats = await active_chats(app.services, chat_filter=ChatFilter.parse(chat_filter))
    return [summary_out(s) for s in chats]


@post("/create-ticket", status_code=201, summary="Make a ticket from the held chat")
async def create_ticket_route(
    data: JSONBody[TicketFromChatIn], app: NamedDependency[App], me: NamedDependency[Operator]
) -> TicketOut:
    """The last five messages are attached and the chat is RESOLVED."""
    ticket = await create_ticket_from_chat(
        app.services,
        operator_id=me.id,
        session_id=data.session_id,
        subject=data.subject,
        description=data.description,
        priority=data.priority,
    )
    return ticket_out(ticket, app)


@post("/transfer", status_code=200, summary="Move the chat to another operator")
async def transfer_route(
    data: JSONBody[TransferIn], app: NamedDependency[App], me: NamedDependency[Operator]
) -> MessageOut:
    """The holder, or an admin, may transfer; returns the system message."""
    message = await transfer(
        app.services,
        actor_id=me.id,
        session_id=data.session_id,
        to_operator_id=data.to_operator_id,
    )
    return message_out(message)


@post("/hand-back", status_code=200, summary="Return the chat to the assistant")
async def hand_back_route(
    data: JSONBody[SessionIn], app: NamedDependency[App], me: NamedDependency[Operator]
) -> MessageOut:
    """The operator's capacity frees up; returns the system message."""
    message = await hand_back(app.services, actor_id=me.id, session_id=data.session_id)
    return message_out(message)


router = Router(
    path="/api/chat-management",
    route_handlers=[
        update_status_route,
        add_note_route,
        history_route,
        active_chats_route,
        create_ticket_route,
        transfer_route,
        hand_back_route,
    ],
    dependencies={"me": Provide(current_operator)},
    tags=["chat management"],
)
