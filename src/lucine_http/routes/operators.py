"""/api/operators: login, logout, availability, replies, pending chats, take a chat."""

# Litestar reads handler annotations at run time: no postponed evaluation here.

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Request, Router, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody

from lucine_core.enums import Availability
from lucine_core.errors import AuthenticationError
from lucine_core.operators import Operator, OperatorView
from lucine_core.services.conversation import operator_message
from lucine_core.services.dashboard import pending_chats
from lucine_core.services.handoff import take_chat
from lucine_core.services.operators import login, logout, set_availability
from lucine_core.services.views import ChatSummary
from lucine_http.deps import App, current_operator
from lucine_http.errors import RateLimited
from lucine_http.schemas import (
    Camel,
    ClientMessageId,
    MessageOut,
    QueueOut,
    SessionId,
    SessionIn,
    Text,
    message_out,
    queue_out,
)

__all__ = ["OperatorOut", "SummaryOut", "operator_out", "router", "summary_out"]


class LoginIn(Camel):
    """Credentials."""

    username: Annotated[str, msgspec.Meta(max_length=100)]
    password: Annotated[str, msgspec.Meta(max_length=1024)]


class OperatorOut(Camel):
    """An operator as dashboards see them (no secrets)."""

    id: str
    username: str
    display_name: str
    role: str
    availability: str
    capacity: int
    disabled: bool
    load: int


class LoginOut(Camel):
    """A bearer token for the Authorization header, valid until ``expiresAt``."""

    token: str
    expires_at: datetime
    operator: OperatorOut


class SendIn(Camel):
    """An operator's reply (v2.7 also sent operatorId: the token says who it is)."""

    session_id: SessionId
    message: Text
    operator_id: str | None = None
    client_message_id: ClientMessageId | None = None


class AvailabilityIn(Camel):
    """ONLINE, BUSY, AWAY or OFFLINE."""

    availability: Availability


class SlaOut(Camel):
    """A running clock against its target."""

    state: str
    due_at: datetime


class SummaryOut(Camel):
    """A row of the dashboard's lists."""

    session_id: str
    status: str
    language: str
    created_at: datetime
    last_activity_at: datetime
    operator_id: str | None
    message_count: int
    last_message: str | None
    last_visitor_message: str | None
    queue: QueueOut | None
    requested_at: datetime | None
    waited_seconds: int | None
    sla: SlaOut | None


class TakeOut(Camel):
    """The taken chat."""

    session_id: str
    message: MessageOut


def operator_out(view: OperatorView) -> OperatorOut:
    """The wire form of an operator."""
    return OperatorOut(
        id=view.id,
        username=view.username,
        display_name=view.display_name,
        role=view.role.value,
        availability=view.availability.value,
        capacity=view.capacity,
        disabled=view.disabled,
        load=view.load,
    )


def summary_out(summary: ChatSummary) -> SummaryOut:
    """The wire form of a dashboard row."""
    sla = summary.sla
    return SummaryOut(
        session_id=summary.session_id,
        status=summary.status.value,
        language=summary.language.value,
        created_at=summary.created_at,
        last_activity_at=summary.last_activity_at,
        operator_id=summary.operator_id,
        message_count=summary.message_count,
        last_message=summary.last_message,
        last_visitor_message=summary.last_visitor_message,
        queue=queue_out(summary.queue),
        requested_at=summary.requested_at,
        waited_seconds=summary.waited_seconds,
        sla=SlaOut(state=sla.state.value, due_at=sla.due_at) if sla else None,
    )


@post("/login", status_code=200, summary="Log in; returns an 8-hour bearer token")
async def login_route(
    data: JSONBody[LoginIn], request: Request[Any, Any, Any], app: NamedDependency[App]
) -> LoginOut:
    """5 failed tries per 15 minutes per username and per client, then 429."""
    services, limit = app.services, app.config.login_limit
    keys = (f"login-user:{data.username.strip().lower()}", f"login-client:{app.client(request)}")
    now = services.clock.now()
    for key in keys:
        decision = await services.limiter.peek(key, limit=limit.count, window=limit.window, now=now)
        if not decision.allowed:
            raise RateLimited(decision.retry_after_seconds, "failed logins")
    try:
        operator = await login(services, username=data.username, password=data.password)
    except AuthenticationError:
        for key in keys:
            await services.limiter.hit(key, limit=limit.count, window=limit.window, now=now)
        raise
    await services.limiter.reset(keys[0])
    token, claims = services.tokens.issue(operator, services.clock.now())
    return LoginOut(
        token=token, expires_at=claims.expires_at, operator=operator_out(operator.view())
    )


@post("/logout", status_code=204, summary="Log out; every token of this operator is revoked")
async def logout_route(app: NamedDependency[App], me: NamedDependency[Operator]) -> None:
    """Goes OFFLINE and revokes the operator's tokens everywhere."""
    await logout(app.services, operator_id=me.id)


@get("/me", summary="The logged-in operator")
async def me_route(me: NamedDependency[Operator]) -> OperatorOut:
    """Who the token belongs to."""
    return operator_out(me.view())


@post("/availability", status_code=200, summary="Change availability")
async def availability_route(
    data: JSONBody[AvailabilityIn], app: NamedDependency[App], me: NamedDependency[Operator]
) -> OperatorOut:
    """Going ONLINE may hand the operator waiting chats at once."""
    view = await set_availability(app.services, operator_id=me.id, availability=data.availability)
    return operator_out(view)


@post("/send-message", status_code=201, summary="Reply to the visitor of a held chat")
async def send_message_route(
    data: JSONBody[SendIn], app: NamedDependency[App], me: NamedDependency[Operator]
) -> MessageOut:
    """Only the operator holding the chat may write to it.

    A retry with the same ``clientMessageId`` returns the message stored the first time.
    """
    message = await operator_message(
        app.services,
        operator_id=me.id,
        session_id=data.session_id,
        text=data.message,
        client_message_id=data.client_message_id,
    )
    return message_out(message)


@get("/pending-chats", summary="Chats waiting for a human, in serving order")
async def pending_route(
    app: NamedDependency[App], me: NamedDependency[Operator]
) -> list[SummaryOut]:
    """With queue place, waiting time and the queue-wait SLA."""
    return [summary_out(s) for s in await pending_chats(app.services)]


@post("/take-chat", status_code=200, summary="Take a chat (409 if someone else has it)")
async def take_route(
    data: JSONBody[SessionIn], app: NamedDependency[App], me: NamedDependency[Operator]
) -> TakeOut:
    """Exactly one operator ever holds a chat."""
    message = await take_chat(app.services, operator_id=me.id, session_id=data.session_id)
    return TakeOut(session_id=data.session_id, message=message_out(message))


router = Router(
    path="/api/operators",
    route_handlers=[
        login_route,
        logout_route,
        me_route,
        availability_route,
        send_message_route,
        pending_route,
        take_route,
    ],
    dependencies={"me": Provide(current_operator)},
    tags=["operators"],
)
