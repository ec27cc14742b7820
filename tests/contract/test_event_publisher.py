"""The EventPublisher port: in-process, Redis and Postgres deliver the same way.

Redis comes from LUCINE_TEST_REDIS_URL or 127.0.0.1:6379, Postgres from tests/databases.py;
without them those cases skip with one line, and fail under CI=true.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import text

from lucine_adapters.realtime import (
    InMemoryEventPublisher,
    PostgresEventPublisher,
    RedisEventPublisher,
)
from lucine_adapters.sql.database import make_engine
from lucine_core.ports import EventPublisher, RealtimeEvent
from tests.redis_server import own_redis

REDIS_URL = os.environ.get("LUCINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@asynccontextmanager
async def postgres_buses(url: str) -> AsyncIterator[tuple[PostgresEventPublisher, ...]]:
    """Two Postgres publishers with engines of their own, as two workers would have."""
    engines = [make_engine(url, pool_size=2), make_engine(url, pool_size=2)]
    buses = tuple(PostgresEventPublisher(engine, retry_seconds=0.2) for engine in engines)
    try:
        yield buses
    finally:
        for bus in buses:
            await bus.aclose()
        for engine in engines:
            await engine.dispose()


@pytest.fixture(params=["memory", "redis", "postgres"])
async def buses(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[EventPublisher, EventPublisher]]:
    """Two publishers sharing one backend, as two workers of one deployment would."""
    if request.param == "memory":
        bus = InMemoryEventPublisher()
        yield bus, bus
        return
    if request.param == "postgres":
        async with postgres_buses(request.getfixturevalue("postgres_url")) as (first, second):
            yield first, second
        return
    clients = [Redis.from_url(REDIS_URL), Redis.from_url(REDIS_URL)]
    try:
        await clients[0].ping()
    except (RedisError, OSError) as error:
        for client in clients:
            await client.aclose()
        reason = f"no Redis at {REDIS_URL}: {error}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)
    prefix = f"lucine-test-{secrets.token_hex(4)}:"
    try:
        yield (
            RedisEventPublisher(clients[0], prefix=prefix),
            RedisEventPublisher(clients[1], prefix=prefix),
        )
    finally:
        for client in clients:
            await client.aclose()


async def test_a_listener_hears_its_channel_only_in_order(
    buses: tuple[EventPublisher, ...],
) -> None:
    """Events published by one worker reach another worker's listener, in order, by channel."""
    publisher, other = buses
    listener = other.listen("session:a")
    await listener.ready()
    await publisher.publish(RealtimeEvent(channel="session:b", kind="message", data={"seq": 9}))
    for seq in (1, 2, 3):
        await publisher.publish(
            RealtimeEvent(channel="session:a", kind="message", data={"seq": seq})
        )
    try:
        got = [await asyncio.wait_for(anext(listener), 5) for _ in range(3)]
    finally:
        await listener.aclose()
    assert [(e.channel, e.kind, e.data["seq"]) for e in got] == [
        ("session:a", "message", 1),
        ("session:a", "message", 2),
        ("session:a", "message", 3),
    ]


async def test_events_published_together_arrive_in_order(
    buses: tuple[EventPublisher, ...],
) -> None:
    """Several events in one publish: each listener hears its channel's, in order."""
    publisher, other = buses
    session = other.listen("session:g")
    operators = other.listen("operators")
    await session.ready()
    await operators.ready()
    await publisher.publish(
        RealtimeEvent(channel="session:g", kind="message", data={"seq": 1}),
        RealtimeEvent(channel="operators", kind="message", data={"sessionId": "g"}),
        RealtimeEvent(channel="session:g", kind="message", data={"seq": 2}),
    )
    try:
        heard = [await asyncio.wait_for(anext(session), 5) for _ in range(2)]
        told = await asyncio.wait_for(anext(operators), 5)
    finally:
        await session.aclose()
        await operators.aclose()
    assert [e.data["seq"] for e in heard] == [1, 2]
    assert told.data == {"sessionId": "g"}


async def test_publishing_without_listeners_does_not_fail(
    buses: tuple[EventPublisher, ...],
) -> None:
    """Nobody listening is normal: publish returns quietly."""
    publisher, _ = buses
    await publisher.publish(RealtimeEvent(channel="operators", kind="queue", data={}))


async def test_a_closed_listener_stops_receiving(
    buses: tuple[EventPublisher, ...],
) -> None:
    """After aclose the listener's subscription is gone and later events go nowhere."""
    publisher, other = buses
    first = other.listen("session:c")
    await first.ready()
    await first.aclose()
    second = other.listen("session:c")
    await second.ready()
    await publisher.publish(RealtimeEvent(channel="session:c", kind="status", data={"s": "x"}))
    try:
        event = await asyncio.wait_for(anext(second), 5)
    finally:
        await second.aclose()
    assert event.kind == "status"


async def test_postgres_listener_comes_back_after_its_connection_is_killed(
    postgres_url: str,
) -> None:
    """Postgres ends the listening connection (a restart, a failover): it reconnects."""
    async with postgres_buses(postgres_url) as (publisher, other):
        listener = other.listen("session:d")
        await listener.ready()
        engine = make_engine(postgres_url, pool_size=1)
        try:
            async with engine.connect() as conn:
                killed = await conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE query LIKE 'LISTEN %' AND datname = current_database()"
                    )
                )
                assert killed.rowcount >= 1
                await conn.commit()
        finally:
            await engine.dispose()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        got = None
        try:
            while got is None and loop.time() < deadline:
                await publisher.publish(
                    RealtimeEvent(channel="session:d", kind="message", data={"seq": 1})
                )
                with contextlib.suppress(TimeoutError):
                    got = await asyncio.wait_for(anext(listener), 0.5)
        finally:
            await listener.aclose()
        assert got is not None
        assert got.data == {"seq": 1}


async def test_a_too_large_postgres_event_is_dropped_quietly(postgres_url: str) -> None:
    """NOTIFY payloads have a size limit: publish logs and returns, later events flow."""
    async with postgres_buses(postgres_url) as (publisher, other):
        listener = other.listen("session:e")
        await listener.ready()
        big = RealtimeEvent(channel="session:e", kind="message", data={"x": "a" * 9000})
        await publisher.publish(big)
        await publisher.publish(RealtimeEvent(channel="session:e", kind="status", data={}))
        # In a batch, only the too-large one is dropped.
        await publisher.publish(big, RealtimeEvent(channel="session:e", kind="queue", data={}), big)
        try:
            got = [await asyncio.wait_for(anext(listener), 5) for _ in range(2)]
        finally:
            await listener.aclose()
        assert [e.kind for e in got] == ["status", "queue"]


async def test_redis_down_delivers_in_this_process_and_never_raises() -> None:
    """Redis stops: publishing does not fail, this process's listeners still hear it."""
    with own_redis() as (port, start, stop):
        start()
        client = Redis.from_url(f"redis://127.0.0.1:{port}/0", socket_connect_timeout=1)
        bus = RedisEventPublisher(client)
        try:
            listener = bus.listen("session:f")
            await listener.ready()
            await bus.publish(RealtimeEvent(channel="session:f", kind="message", data={"n": 1}))
            first = await asyncio.wait_for(anext(listener), 5)
            stop()
            await bus.publish(RealtimeEvent(channel="session:f", kind="message", data={"n": 2}))
            second = await asyncio.wait_for(anext(listener), 5)
            late = bus.listen("session:f")  # subscribed while Redis is away
            await late.ready()
            await bus.publish(RealtimeEvent(channel="session:f", kind="status", data={"n": 3}))
            third = await asyncio.wait_for(anext(late), 5)
            await listener.aclose()
            await late.aclose()
        finally:
            await client.aclose()
    assert [first.data, second.data, third.data] == [{"n": 1}, {"n": 2}, {"n": 3}]
