"""Fixed-window rate limits: in-process, or shared by every worker (Redis, or the database).

The database is for Postgres deployments without Redis; SQLite runs one worker.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from lucine_adapters.sql import tables as t
from lucine_adapters.sql.database import translate_error
from lucine_core.ports import RateDecision

__all__ = ["InMemoryRateLimiter", "RedisRateLimiter", "SqlRateLimiter"]

_log = logging.getLogger("lucine.ratelimit")


def _window(now: datetime, window: timedelta) -> tuple[int, int]:
    """The current window's index and the seconds until it ends."""
    size = window.total_seconds()
    index = math.floor(now.timestamp() / size)
    ends = (index + 1) * size
    return index, max(1, math.ceil(ends - now.timestamp()))


def _decide(count: int, limit: int, retry: int) -> RateDecision:
    return RateDecision(
        allowed=count <= limit, remaining=max(0, limit - count), retry_after_seconds=retry
    )


class InMemoryRateLimiter:
    """Counters in this process; right for one worker, wrong for several."""

    def __init__(self) -> None:
        self._counts: dict[str, tuple[int, int]] = {}

    def _count(self, key: str, index: int) -> int:
        stored = self._counts.get(key)
        return stored[1] if stored and stored[0] == index else 0

    async def hit(self, key: str, *, limit: int, window: timedelta, now: datetime) -> RateDecision:
        """Count an attempt."""
        index, retry = _window(now, window)
        count = self._count(key, index) + 1
        self._counts[key] = (index, count)
        if len(self._counts) > 100_000:  # noqa: PLR2004 - bound memory under a flood of keys
            self._counts = {k: v for k, v in self._counts.items() if v[0] == index}
        return _decide(count, limit, retry)

    async def peek(self, key: str, *, limit: int, window: timedelta, now: datetime) -> RateDecision:
        """Would one more attempt pass?"""
        index, retry = _window(now, window)
        return _decide(self._count(key, index) + 1, limit, retry)

    async def reset(self, key: str) -> None:
        """Forget the key's attempts."""
        self._counts.pop(key, None)


class RedisRateLimiter:
    """Counters in Redis (INCR + EXPIRE per window), shared by every worker.

    While Redis does not answer, the limits are counted in this process instead (each
    worker then allows up to the limit on its own) with a warning, and Redis is tried
    again after ``pause_seconds``: a cache outage never turns into 5xx for visitors.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = "lucine:rl:",
        pause_seconds: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._local = InMemoryRateLimiter()
        self._pause = pause_seconds
        self._monotonic = monotonic
        self._retry_at: float | None = None  # set while Redis is considered down

    def _key(self, key: str, index: int) -> str:
        return f"{self._prefix}{key}:{index}"

    @property
    def degraded(self) -> bool:
        """Whether limits are counted per process right now (Redis unavailable)."""
        return self._retry_at is not None

    def _shared(self) -> bool:
        return self._retry_at is None or self._monotonic() >= self._retry_at

    def _lost(self, error: Exception) -> None:
        if self._retry_at is None:
            _log.warning(
                "Redis unavailable (%s): rate limits are counted per process until it is back",
                type(error).__name__,
            )
        self._retry_at = self._monotonic() + self._pause

    def _back(self) -> None:
        if self._retry_at is not None:
            _log.warning("Redis is back: rate limits are shared by every worker again")
            self._retry_at = None

    async def hit(self, key: str, *, limit: int, window: timedelta, now: datetime) -> RateDecision:
        """Count an attempt."""
        if self._shared():
            index, retry = _window(now, window)
            name = self._key(key, index)
            try:
                async with self._redis.pipeline(transaction=True) as pipe:
                    pipe.incr(name)
                    pipe.expire(name, retry + 1)
                    count, _ = await pipe.execute()
            except (RedisError, OSError) as error:
                self._lost(error)
            else:
                self._back()
                return _decide(int(count), limit, retry)
        return await self._local.hit(key, limit=limit, window=window, now=now)

    async def peek(self, key: str, *, limit: int, window: timedelta, now: datetime) -> RateDecision:
        """Would one more attempt pass?"""
        if self._shared():
            index, retry = _window(now, window)
            try:
                raw = await self._redis.get(self._key(key, index))
            except (RedisError, OSError) as error:
                self._lost(error)
            else:
                self._back()
                return _decide(int(raw or 0) + 1, limit, retry)
        return await self._local.peek(key, limit=limit, window=window, now=now)

    async def reset(self, key: str) -> None:
        """Forget the key's attempts (every window), in Redis and in this process."""
        await self._local.reset(key)
        if not self._shared():
            return
        try:
            async for name in self._redis.scan_iter(match=f"{self._prefix}{key}:*"):
                await self._redis.delete(name)
        except (RedisError, OSError) as error:
            self._lost(error)


class SqlRateLimiter:
    """Counters in the ``rate_limits`` table (one upsert per attempt), shared by every worker.

    For Postgres deployments without Redis. Each key keeps its current window's row only,
    and every ``sweep_every`` attempts the process deletes rows whose window has ended.
    A database failure is the database unavailable, as for any other request.
    """

    def __init__(self, engine: AsyncEngine, *, sweep_every: int = 1000) -> None:
        self._engine = engine
        self._sweep_every = sweep_every
        self._hits = 0
        dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        self._insert = dialect.insert
        # On Postgres each statement commits on its own: the upsert holds the key's row
        # lock only while Postgres runs it. In a transaction the lock lasted until this
        # process got round to sending COMMIT, and under load every request from one
        # address queued on it (chat at 16 requests/s on two workers). SQLite has one
        # writer at a time anyway, and its connections begin with BEGIN IMMEDIATE.
        self._options = {"isolation_level": "AUTOCOMMIT"} if dialect is postgresql else {}

    async def hit(self, key: str, *, limit: int, window: timedelta, now: datetime) -> RateDecision:
        """Count an attempt: add one to this window's row (made at the window's first hit).

        The first hit of a window also deletes the key's ended windows, and every
        ``sweep_every`` hits the process deletes every key's.
        """
        index, retry = _window(now, window)
        table = t.rate_limits
        upsert = (
            self._insert(table)
            .values(key=key, window=index, count=1, expires_at=now + timedelta(seconds=retry))
            .on_conflict_do_update(
                index_elements=[table.c.key, table.c.window], set_={"count": table.c.count + 1}
            )
            .returning(table.c.count)
        )
        self._hits += 1
        try:
            async with self._engine.connect() as plain:
                conn = await plain.execution_options(**self._options)
                count = int((await conn.execute(upsert)).scalar_one())
                if count == 1:
                    await conn.execute(
                        delete(table).where(table.c.key == key, table.c.window < index)
                    )
                if self._hits % self._sweep_every == 0:
                    await conn.execute(delete(table).where(table.c.expires_at < now))
                await conn.commit()  # a no-op under AUTOCOMMIT
        except DBAPIError as error:
            raise translate_error(error) from error
        return _decide(count, limit, retry)

    async def peek(self, key: str, *, limit: int, window: timedelta, now: datetime) -> RateDecision:
        """Would one more attempt pass?"""
        index, retry = _window(now, window)
        table = t.rate_limits
        query = select(table.c.count).where(table.c.key == key, table.c.window == index)
        try:
            async with self._engine.connect() as conn:
                count = (await conn.execute(query)).scalar_one_or_none()
        except DBAPIError as error:
            raise translate_error(error) from error
        return _decide(int(count or 0) + 1, limit, retry)

    async def reset(self, key: str) -> None:
        """Forget the key's attempts (every window)."""
        try:
            async with self._engine.begin() as conn:
                await conn.execute(delete(t.rate_limits).where(t.rate_limits.c.key == key))
        except DBAPIError as error:
            raise translate_error(error) from error
