"""The EventPublisher port: in-process and Redis pub/sub deliver the same way.

Redis comes from LUCINE_TEST_REDIS_URL or 127.0.0.1:6379; without it the Redis cases
skip with one line, and fail under CI=true.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from lucine_adapters.realtime import InMemoryEventPublisher, RedisEventPublisher
from lucine_core.ports import EventPublisher, RealtimeEvent

REDIS_URL = os.environ.get("LUCINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(params=["memory", "redis"])
async def buses(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[EventPublisher, EventPublisher]]:
    """Two publishers sharing one backend, as two workers of one deployment would."""
    if request.param == "memory":
        bus = InMemoryEventPublisher()
        yield bus, bus
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
