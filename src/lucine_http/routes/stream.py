"""Server-Sent Events: "something changed" pushed at once to a widget or to the dashboard.

Events are small (kind, seq, status, ids); the client then fetches the content, so a lost
or coalesced event costs nothing but a poll. Keep-alive comments (every 15 s by default,
LUCINE_STREAM_KEEPALIVE_SECONDS) keep proxies from closing an idle stream.

The operators' stream needs the operator's token (the Authorization header, as the
dashboard sends it with fetch, never in the URL) and checks it again at every keep-alive:
a logout, a password change or a disabled account ends the stream by the next one.
"""

# Litestar reads handler annotations at run time: no postponed evaluation here.

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from litestar import Request, Router, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import ServerSentEvent
from litestar.response.sse import ServerSentEventMessage

from lucine_core.errors import AuthenticationError
from lucine_core.ports import EventListener, RealtimeEvent
from lucine_core.services.common import OPERATORS_CHANNEL, session_channel
from lucine_core.services.operators import authenticate
from lucine_http.deps import App, current_operator, token_of

__all__ = ["router"]


async def _still_valid() -> bool:
    return True


async def _events(
    stream: EventListener,
    keepalive: float,
    still_valid: Callable[[], Awaitable[bool]] = _still_valid,
) -> AsyncIterator[ServerSentEventMessage]:
    yield ServerSentEventMessage(event="ready", data="{}")
    try:
        while True:
            try:
                event: RealtimeEvent = await asyncio.wait_for(anext(stream), timeout=keepalive)
            except TimeoutError:
                if not await still_valid():
                    yield ServerSentEventMessage(event="revoked", data="{}")
                    return
                yield ServerSentEventMessage(comment="keep-alive")
                continue
            yield ServerSentEventMessage(event=event.kind, data=json.dumps(dict(event.data)))
    finally:
        await stream.aclose()


@get(
    "/chat/stream/{session_id:str}",
    summary="Push notifications for one chat (SSE)",
    tags=["visitor"],
)
async def chat_stream(session_id: FromPath[str], app: NamedDependency[App]) -> ServerSentEvent:
    """404 for an unknown chat; then an event whenever the chat changes."""
    async with app.services.uow(read_only=True) as uow:
        await uow.sessions.get(session_id)
    # Subscribe before answering, so nothing published after this point is missed.
    listener = app.services.publisher.listen(session_channel(session_id))
    await listener.ready()
    return ServerSentEvent(_events(listener, app.config.keepalive_seconds))


@get(
    "/operators/stream",
    summary="Push notifications for the dashboard (SSE)",
    tags=["operators"],
)
async def operators_stream(
    request: Request[Any, Any, Any], app: NamedDependency[App]
) -> ServerSentEvent:
    """401 without a valid token; then an event whenever a chat, queue or ticket changes.

    Event kinds: message, queue, taken, transfer, status, note, rating, ticket, sla,
    operator; "revoked" (then the stream ends) when the token stops being valid.
    """
    token = token_of(request)
    await current_operator(request, app)

    async def still_valid() -> bool:
        try:
            await authenticate(app.services, token or "")
        except AuthenticationError:
            return False
        return True

    listener = app.services.publisher.listen(OPERATORS_CHANNEL)
    await listener.ready()
    return ServerSentEvent(_events(listener, app.config.keepalive_seconds, still_valid))


router = Router(
    path="/api",
    route_handlers=[chat_stream, operators_stream],
)
