"""In-process realtime fan-out: each subscriber gets its own bounded queue."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from lucine_core.ports import RealtimeEvent

__all__ = ["InMemoryEventPublisher", "RedisEventPublisher"]

_log = logging.getLogger("lucine.realtime")


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

    async def ready(self) -> None:
        """Already subscribed at creation."""

    def __aiter__(self) -> _Listener:
        return self

    async def __anext__(self) -> RealtimeEvent:
        return await self._queue.get()

    async def aclose(self) -> None:
        """Stop receiving."""
        self._bus.unsubscribe(self._channel, self._queue)


class RedisEventPublisher:
    """Fans realtime events out through Redis pub/sub, so every worker's listeners hear them.

    Delivery is best effort, like the in-process publisher: a listener that was not
    subscribed when an event was published does not get it (widgets poll to catch up).
    """

    def __init__(self, redis: Redis, *, prefix: str = "lucine:rt:") -> None:
        self._redis = redis
        self._prefix = prefix

    async def publish(self, event: RealtimeEvent) -> None:
        """PUBLISH the event as JSON; a Redis failure is logged, never raised."""
        payload = json.dumps({"kind": event.kind, "data": dict(event.data)})
        try:
            await self._redis.publish(self._prefix + event.channel, payload)
        except (RedisError, OSError) as error:
            _log.warning("realtime publish failed: %s", type(error).__name__)

    def listen(self, channel: str) -> _RedisListener:
        """A subscription to ``channel``, established on first read or ``ready()``."""
        return _RedisListener(self._redis.pubsub(), self._prefix + channel, channel)


class _RedisListener:
    """One Redis subscription as an async iterator of RealtimeEvents."""

    def __init__(self, pubsub: PubSub, name: str, channel: str) -> None:
        self._pubsub = pubsub
        self._name = name
        self._channel = channel
        self._subscribed = False

    async def ready(self) -> None:
        """Subscribe now (idempotent), so events published from here on are received."""
        if not self._subscribed:
            await self._pubsub.subscribe(self._name)
            self._subscribed = True

    def __aiter__(self) -> _RedisListener:
        return self

    async def __anext__(self) -> RealtimeEvent:
        await self.ready()
        while True:
            message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
            if message is None or message.get("type") != "message":
                continue
            try:
                body = json.loads(message["data"])
                return RealtimeEvent(
                    channel=self._channel, kind=str(body["kind"]), data=body["data"]
                )
            except (ValueError, KeyError, TypeError):
                continue

    async def aclose(self) -> None:
        """Unsubscribe and release the connection."""
        await self._pubsub.aclose()
