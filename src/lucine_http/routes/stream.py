"""Server-Sent Events for the widget: a visitor's chat pushes "something changed" at once.

Events are small (kind, seq, status); the widget then polls for the content, so a lost
or coalesced event costs nothing but a poll. Keep-alive comments every 15 s keep proxies
from closing an idle stream.
"""

# Litestar reads handler annotations at run time: no postponed evaluation here.

import asyncio
import json
from collections.abc import AsyncIterator

from litestar import Router, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import ServerSentEvent
from litestar.response.sse import ServerSentEventMessage

from lucine_core.ports import EventListener, RealtimeEvent
from lucine_core.services.common import session_channel
from lucine_http.deps import App

__all__ = ["router"]

KEEPALIVE_SECONDS = 15.0


async def _events(stream: EventListener) -> AsyncIterator[ServerSentEventMessage]:
    yield ServerSentEventMessage(event="ready", data="{}")
    try:
        while True:
            try:
                event: RealtimeEvent = await asyncio.wait_for(
                    anext(stream), timeout=KEEPALIVE_SECONDS
                )
            except TimeoutError:
                yield ServerSentEventMessage(comment="keep-alive")
                continue
            yield ServerSentEventMessage(event=event.kind, data=json.dumps(dict(event.data)))
    finally:
        await stream.aclose()


@get("/{session_id:str}", summary="Push notifications for one chat (SSE)")
async def chat_stream(session_id: FromPath[str], app: NamedDependency[App]) -> ServerSentEvent:
    """404 for an unknown chat; then an event whenever the chat changes."""
    async with app.services.uow() as uow:
        await uow.sessions.get(session_id)
    # Subscribe before answering, so nothing published after this point is missed.
    listener = app.services.publisher.listen(session_channel(session_id))
    await listener.ready()
    return ServerSentEvent(_events(listener))


router = Router(path="/api/chat/stream", route_handlers=[chat_stream], tags=["visitor"])
