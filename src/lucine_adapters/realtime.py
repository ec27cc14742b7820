"""In-process realtime fan-out: each subscriber gets its own bounded queue."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from lucine_core.ports import RealtimeEvent

__all__ = ["InMemoryEventPublisher"]


class InMemoryEventPublisher:
    """Publishes to subscribers in this process; a slow subscriber drops its oldest events."""

    def __init__(self, queue_size: int = 100) -> None:
        self._queue_size = queue_size
        self._subscribers: defaultdict[str, set[asyncio.Queue[RealtimeEvent]]] = defaultdict(set)
        self.published: list[RealtimeEvent] = []
        self.keep_history = False

    async def publish(self, event: RealtimeEvent) -> None:
        """Deliver to every subscriber of the event's channel; never blocks or raises."""
        if self.keep_history:
            self.published.append(event)
        for queue in tuple(self._subscribers.get(event.channel, ())):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(event)

    def subscribe(self, channel: str) -> asyncio.Queue[RealtimeEvent]:
        """A new queue receiving the channel's events from now on."""
        queue: asyncio.Queue[RealtimeEvent] = asyncio.Queue(self._queue_size)
        self._subscribers[channel].add(queue)
        return queue

    def listen(self, channel: str) -> _Listener:
        """The channel's events from the moment of this call; ``aclose()`` unsubscribes."""
        return _Listener(self, channel, self.subscribe(channel))

    def unsubscribe(self, channel: str, queue: asyncio.Queue[RealtimeEvent]) -> None:
        """Stop delivering to ``queue``."""
        self._subscribers[channel].discard(queue)
        if not self._subscribers[channel]:
            del self._subscribers[channel]


class _Listener:
    """An async iterator over one subscription, subscribed from its creation."""

    def __init__(
        self, bus: InMemoryEventPublisher, channel: str, queue: asyncio.Queue[RealtimeEvent]
    ) -> None:
        self._bus = bus
        self._channel = channel
        self._queue = queue

    def __aiter__(self) -> _Listener:
        return self

    async def __anext__(self) -> RealtimeEvent:
        return await self._queue.get()

    async def aclose(self) -> None:
        """Stop receiving."""
        self._bus.unsubscribe(self._channel, self._queue)
