"""The visitor's API: POST /api/chat, actions, polling, rating, the ticket form."""

# Litestar reads handler annotations at run time: no postponed evaluation here.

from typing import Annotated, Any

from litestar import Request, Router, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from lucine_core.services.chat import poll, rate_chat, smart_action, visitor_message
from lucine_core.services.tickets import create_ticket_from_widget
from lucine_http.deps import App, check_limit
from lucine_http.schemas import (
    ActionIn,
    ActionOut,
    ChatIn,
    ChatOut,
    PollOut,
    RatingIn,
    TicketFormIn,
    TicketFormOut,
    action_out,
    chat_out,
    poll_out,
)

__all__ = ["router"]


@post("/", status_code=200, summary="A visitor's message; the assistant's reply")
async def chat(
    data: JSONBody[ChatIn], request: Request[Any, Any, Any], app: NamedDependency[App]
) -> ChatOut:
    """Store the visitor's message and answer it (unless an operator holds the chat).

    A retry with the same ``clientMessageId`` (in the same chat, or by a long id for a
    chat's first message) stores nothing and returns the stored reply (``replyPending``
    while it is still being written).
    """
    client = app.client(request)
    await check_limit(app, f"chat:{client}", app.config.chat_limit, "messages")
    if data.session_id is None:
        await check_limit(app, f"new:{client}", app.config.new_sessions_limit, "new chats")
    reply = await visitor_message(
        app.services,
        text=data.message,
        session_id=data.session_id,
        client_message_id=data.client_message_id,
    )
    return chat_out(reply)


@post("/action", status_code=200, summary="A smart-action button press")
async def action(
    data: JSONBody[ActionIn], request: Request[Any, Any, Any], app: NamedDependency[App]
) -> ActionOut:
    """request_operator queues the chat (or offers a ticket); continue_ai stays with the AI."""
    await check_limit(app, f"chat:{app.client(request)}", app.config.chat_limit, "messages")
    result = await smart_action(app.services, session_id=data.session_id, action=data.action)
    return action_out(result)


@get("/poll/{session_id:str}", summary="New messages and the chat's state")
async def poll_chat(
    session_id: FromPath[str],
    app: NamedDependency[App],
    since: Annotated[int, QueryParameter(ge=0, le=10_000_000, description="Last seq seen")] = 0,
) -> PollOut:
    """Messages after ``since``, the state, the operator's name and the queue place."""
    return poll_out(await poll(app.services, session_id=session_id, after_seq=since))


@post("/rating", status_code=204, summary="The visitor rates a closed chat")
async def rating(
    data: JSONBody[RatingIn], request: Request[Any, Any, Any], app: NamedDependency[App]
) -> None:
    """1 to 5, with an optional comment."""
    await check_limit(app, f"chat:{app.client(request)}", app.config.chat_limit, "messages")
    await rate_chat(
        app.services, session_id=data.session_id, rating=data.rating, comment=data.comment
    )


@post("/ticket", status_code=201, summary="The form when nobody is online")
async def ticket_form(
    data: JSONBody[TicketFormIn], request: Request[Any, Any, Any], app: NamedDependency[App]
) -> TicketFormOut:
    """A ticket with the visitor's e-mail or phone; the chat gets a confirmation."""
    await check_limit(app, f"chat:{app.client(request)}", app.config.chat_limit, "messages")
    ticket = await create_ticket_from_widget(
        app.services,
        session_id=data.session_id,
        message=data.message,
        email=data.email,
        phone=data.phone,
        name=data.name,
        confirm=data.confirm,
    )
    return TicketFormOut(ticket_id=ticket.id, status=ticket.status.value)


router = Router(
    path="/api/chat",
    route_handlers=[chat, action, poll_chat, rating, ticket_form],
    tags=["visitor"],
)
