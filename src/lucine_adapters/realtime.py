"""Realtime fan-out: in-process, through Redis pub/sub, or through Postgres LISTEN/NOTIFY.

In every case each subscriber gets its own bounded queue in its own process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from typing import Any

import psycopg
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from lucine_core.ports import RealtimeEvent

__all__ = ["InMemoryEventPublisher", "PostgresEventPublisher", "RedisEventPublisher"]

_log = logging.getLogger("lucine.realtime")


class InMemoryEventPublisher:
    """Publishes to subscribers in this process; a slow subscriber drops its oldest events."""

    def __init__(self, queue_size: int = 100) -> None:
        self._queue_size = queue_size
        self._subscribers: defaultdict[str, set[asyncio.Queue[RealtimeEvent]]] = defaultdict(set)
        self.published: list[RealtimeEvent] = []
        self.keep_history = False

    async def publish(self, *events: RealtimeEvent) -> None:
        """Deliver to every subscriber of each event's channel; never blocks or raises."""
        for event in events:
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


def _degraded(what: str, error: BaseException) -> None:
    _log.warning("realtime %s (%s): events reach this process only", what, type(error).__name__)


class RedisEventPublisher:
    """Fans realtime events out through Redis pub/sub, so every worker's listeners hear them.

    Delivery is best effort, like the in-process publisher: a listener that was not
    subscribed when an event was published does not get it (widgets poll to catch up).
    While Redis does not answer, events reach this process's listeners only, with a
    warning: a cache outage degrades the fan-out, it never fails a request.
    """

    def __init__(self, redis: Redis, *, prefix: str = "lucine:rt:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._local = InMemoryEventPublisher()

    async def publish(self, *events: RealtimeEvent) -> None:
        """PUBLISH the events as JSON, pipelined; if Redis fails, deliver in this process."""
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for event in events:
                    payload = json.dumps({"kind": event.kind, "data": dict(event.data)})
                    pipe.publish(self._prefix + event.channel, payload)
                await pipe.execute()
        except (RedisError, OSError) as error:
            _log.warning(
                "realtime publish through Redis failed (%s): this process only",
                type(error).__name__,
            )
            await self._local.publish(*events)

    def listen(self, channel: str) -> _RedisListener:
        """A subscription to ``channel``, established on first read or ``ready()``."""
        return _RedisListener(
            self._redis.pubsub(), self._prefix + channel, channel, self._local.listen(channel)
        )


class _RedisListener:
    """One Redis subscription, plus this process's events while Redis is away."""

    def __init__(self, pubsub: PubSub, name: str, channel: str, local: _Listener) -> None:
        self._pubsub = pubsub
        self._name = name
        self._channel = channel
        self._local = local
        self._subscribed = False
        self._remote: asyncio.Task[RealtimeEvent] | None = None
        self._nearby: asyncio.Task[RealtimeEvent] | None = None

    async def ready(self) -> None:
        """Subscribe now (idempotent), so events published from here on are received."""
        if self._subscribed:
            return
        try:
            await self._pubsub.subscribe(self._name)
            self._subscribed = True
        except (RedisError, OSError) as error:
            _log.warning(
                "realtime subscribe through Redis failed (%s): this process only",
                type(error).__name__,
            )

    def __aiter__(self) -> _RedisListener:
        return self

    async def __anext__(self) -> RealtimeEvent:
        await self.ready()
        if self._nearby is None:
            self._nearby = asyncio.ensure_future(anext(self._local))
        if self._remote is None and self._subscribed:
            self._remote = asyncio.ensure_future(self._next_remote())
        waiting = {t for t in (self._remote, self._nearby) if t is not None}
        done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if self._nearby in done:
            event = self._nearby.result()
            self._nearby = None
            return event
        remote, self._remote = self._remote, None
        assert remote is not None  # noqa: S101 - one of the two finished
        try:
            return remote.result()
        except (RedisError, OSError) as error:
            _log.warning(
                "realtime stream from Redis lost (%s): this process only", type(error).__name__
            )
            self._subscribed = False
            return await self.__anext__()

    async def _next_remote(self) -> RealtimeEvent:
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
        for task in (self._remote, self._nearby):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, RedisError, OSError):
                    await task
        await self._local.aclose()
        with contextlib.suppress(RedisError, OSError):
            await self._pubsub.aclose()


class PostgresEventPublisher:
    """Fans realtime events out through Postgres LISTEN/NOTIFY, so every worker hears them.

    All events share one NOTIFY channel; the payload names the realtime channel. Each
    process keeps one listening connection and hands what it hears to its own listeners
    in memory, so a thousand open streams cost one connection, not a thousand. Events
    are published through the engine's pool (``pg_notify``), also by the process that
    publishes them, so every worker sees one order. The listening connection comes back
    by itself after an outage; events published while it was away are lost, as with
    Redis (delivery is best effort: clients catch up from the database).

    Litestar's channels plugin has a psycopg backend, but it opens a connection per
    publish, LISTENs once per channel (restarting its reader for each new stream) and
    gives up when the connection drops; and ``lucine worker`` publishes with no app.
    """

    NOTIFY_CHANNEL = "lucine_realtime"
    MAX_PAYLOAD = 7900  # Postgres refuses NOTIFY payloads of 8,000 bytes and more

    def __init__(
        self, engine: AsyncEngine, *, connect_timeout: float = 3.0, retry_seconds: float = 1.0
    ) -> None:
        self._engine = engine
        self._dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._connect_timeout = connect_timeout
        self._retry_seconds = retry_seconds
        self._local = InMemoryEventPublisher()
        self._task: asyncio.Task[None] | None = None
        self._listening: asyncio.Event | None = None

    async def publish(self, *events: RealtimeEvent) -> None:
        """NOTIFY the events as JSON, in one statement; a database failure is logged."""
        params: dict[str, str] = {"channel": self.NOTIFY_CHANNEL}
        for event in events:
            payload = json.dumps(
                {"channel": event.channel, "kind": event.kind, "data": dict(event.data)},
                separators=(",", ":"),
            )
            if len(payload.encode()) > self.MAX_PAYLOAD:
                _log.warning("realtime event too large for NOTIFY: %s", event.kind)
                continue
            params[f"p{len(params) - 1}"] = payload
        if len(params) == 1:
            return
        # Postgres evaluates the calls in order, and delivers a transaction's
        # notifications in the order they were sent. Autocommit: no BEGIN and COMMIT
        # round trips around the one statement.
        calls = ", ".join(f"pg_notify(:channel, :p{n})" for n in range(len(params) - 1))
        try:
            async with self._engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text(f"SELECT {calls}"), params)
        except (SQLAlchemyError, OSError) as error:
            _log.warning("realtime publish failed: %s", type(error).__name__)

    def listen(self, channel: str) -> _PostgresListener:
        """A subscription to ``channel``; ``ready()`` waits for the process's LISTEN."""
        return _PostgresListener(self, self._local.listen(channel))

    async def started(self) -> None:
        """Start listening (once per process) and wait a bounded time until it does."""
        listening = self._listening
        if self._task is None or self._task.done() or listening is None:
            listening = self._listening = asyncio.Event()
            self._task = asyncio.create_task(self._listen_forever(listening))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(listening.wait(), self._connect_timeout + 1)

    async def aclose(self) -> None:
        """Stop listening and close the listening connection."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _listen_forever(self, listening: asyncio.Event) -> None:
        delay = self._retry_seconds
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self._dsn, autocommit=True, connect_timeout=max(1, int(self._connect_timeout))
                )
                async with conn:
                    await conn.execute(f"LISTEN {self.NOTIFY_CHANNEL}")
                    if not listening.is_set():
                        _log.info("realtime: listening on Postgres")
                    listening.set()
                    delay = self._retry_seconds
                    async for notify in conn.notifies():
                        await self._deliver(notify.payload)
            except (psycopg.Error, OSError) as error:
                if listening.is_set():
                    _log.warning("realtime: Postgres listener lost (%s)", type(error).__name__)
                listening.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10 * self._retry_seconds)

    async def _deliver(self, payload: str) -> None:
        try:
            body: dict[str, Any] = json.loads(payload)
            event = RealtimeEvent(
                channel=str(body["channel"]), kind=str(body["kind"]), data=body["data"]
            )
        except (ValueError, KeyError, TypeError):
            return
        await self._local.publish(event)


class _PostgresListener:
    """A local subscription whose ``ready()`` also waits for the process's LISTEN."""

    def __init__(self, bus: PostgresEventPublisher, local: _Listener) -> None:
        self._bus = bus
        self._local = local

    async def ready(self) -> None:
        """Subscribed locally at creation; returns once Postgres is listened to (bounded)."""
        await self._bus.started()

    def __aiter__(self) -> _PostgresListener:
        return self

    async def __anext__(self) -> RealtimeEvent:
        return await self._local.__anext__()

    async def aclose(self) -> None:
        """Stop receiving."""
        await self._local.aclose()
