"""The RateLimiter port: in-process, Redis and database counters behave the same.

Redis comes from LUCINE_TEST_REDIS_URL or 127.0.0.1:6379; without it the Redis cases
skip with one line, and fail under CI=true.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import select

from lucine_adapters.ratelimit import InMemoryRateLimiter, RedisRateLimiter, SqlRateLimiter
from lucine_adapters.sql import tables
from lucine_core.ports import RateLimiter
from tests.databases import open_postgres, open_sqlite
from tests.redis_server import own_redis

T0 = datetime(2026, 12, 8, 18, 0, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
REDIS_URL = os.environ.get("LUCINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(params=["memory", "redis", "sqlite", "postgres"])
async def limiter(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[RateLimiter]:
    """A fresh limiter of each kind (Redis keys under a random prefix, removed after)."""
    if request.param == "memory":
        yield InMemoryRateLimiter()
        return
    if request.param == "sqlite":
        async with open_sqlite(tmp_path) as database:
            yield SqlRateLimiter(database.engine, sweep_every=3)
        return
    if request.param == "postgres":
        async with open_postgres(request.getfixturevalue("postgres_url")) as database:
            yield SqlRateLimiter(database.engine, sweep_every=3)
        return
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (RedisError, OSError) as error:
        await client.aclose()
        reason = f"no Redis at {REDIS_URL}: {error}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)
    prefix = f"lucine-test-{secrets.token_hex(4)}:"
    try:
        yield RedisRateLimiter(client, prefix=prefix)
    finally:
        async for key in client.scan_iter(match=f"{prefix}*"):
            await client.delete(key)
        await client.aclose()


async def test_allows_up_to_the_limit_then_refuses(limiter: RateLimiter) -> None:
    """Ten hits in a minute pass, the eleventh is refused with the seconds left in the window."""
    decisions = [await limiter.hit("k", limit=10, window=MINUTE, now=T0) for _ in range(11)]
    assert [d.allowed for d in decisions] == [True] * 10 + [False]
    assert decisions[9].remaining == 0
    assert decisions[10].retry_after_seconds == 60


async def test_a_new_window_starts_afresh(limiter: RateLimiter) -> None:
    """After the window ends the count starts again."""
    for _ in range(3):
        await limiter.hit("k", limit=2, window=MINUTE, now=T0)
    later = await limiter.hit("k", limit=2, window=MINUTE, now=T0 + MINUTE)
    assert later.allowed


async def test_keys_are_independent(limiter: RateLimiter) -> None:
    """One client's attempts do not count against another's."""
    for _ in range(3):
        await limiter.hit("a", limit=2, window=MINUTE, now=T0)
    assert (await limiter.hit("b", limit=2, window=MINUTE, now=T0)).allowed


async def test_peek_counts_nothing_and_reset_forgets(limiter: RateLimiter) -> None:
    """Peek reports without counting; reset clears the key."""
    for _ in range(5):
        assert (await limiter.peek("k", limit=2, window=MINUTE, now=T0)).allowed
    await limiter.hit("k", limit=2, window=MINUTE, now=T0)
    await limiter.hit("k", limit=2, window=MINUTE, now=T0)
    assert not (await limiter.peek("k", limit=2, window=MINUTE, now=T0)).allowed
    await limiter.reset("k")
    assert (await limiter.peek("k", limit=2, window=MINUTE, now=T0)).allowed


async def test_retry_after_counts_down_within_the_window(limiter: RateLimiter) -> None:
    """Twenty seconds into a minute window, a refused client waits about forty seconds."""
    now = T0 + timedelta(seconds=20)
    await limiter.hit("k", limit=1, window=MINUTE, now=now)
    refused = await limiter.hit("k", limit=1, window=MINUTE, now=now)
    assert not refused.allowed
    assert refused.retry_after_seconds == 40


async def test_redis_down_counts_per_process_with_a_warning_then_shares_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Redis stops: limits hold per process with a warning, no error; then shared again.

    Redis is tried again once the pause is over.
    """
    clock = [0.0]
    with own_redis() as (port, start, stop):
        start()
        client = Redis.from_url(f"redis://127.0.0.1:{port}/0", socket_connect_timeout=1)
        limiter = RedisRateLimiter(client, pause_seconds=5, monotonic=lambda: clock[0])
        try:
            assert (await limiter.hit("k", limit=2, window=MINUTE, now=T0)).allowed
            stop()
            with caplog.at_level(logging.WARNING, logger="lucine.ratelimit"):
                down = [await limiter.hit("k", limit=2, window=MINUTE, now=T0) for _ in range(3)]
            assert [d.allowed for d in down] == [True, True, False]
            assert limiter.degraded
            assert "per process" in caplog.text
            assert not (await limiter.peek("k", limit=2, window=MINUTE, now=T0)).allowed
            start()
            clock[0] += 6  # past the pause: Redis is tried again
            back = await limiter.hit("other", limit=2, window=MINUTE, now=T0)
            assert back.allowed
            assert not limiter.degraded
            assert int(await client.get(f"lucine:rl:other:{int(T0.timestamp()) // 60}") or 0) == 1
        finally:
            await client.aclose()


async def test_database_counters_keep_only_windows_that_have_not_ended(tmp_path: Path) -> None:
    """Each key keeps its current window's row; ended windows of idle keys are swept."""
    async with open_sqlite(tmp_path) as database:
        limiter = SqlRateLimiter(database.engine, sweep_every=4)
        await limiter.hit("idle", limit=5, window=MINUTE, now=T0)
        for minute in range(3):
            await limiter.hit("busy", limit=5, window=MINUTE, now=T0 + minute * MINUTE)
        async with database.engine.connect() as conn:
            rows = (await conn.execute(select(tables.rate_limits.c.key))).scalars().all()
        assert sorted(rows) == ["busy"]  # the 4th hit swept the idle key's ended window
        assert (
            await limiter.peek("busy", limit=1, window=MINUTE, now=T0 + 2 * MINUTE)
        ).allowed is False
