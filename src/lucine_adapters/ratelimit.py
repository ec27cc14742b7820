"""Fixed-window rate limits: in-process (one worker) or in Redis (shared by every worker)."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from redis.asyncio import Redis
from redis.exceptions import RedisError

from lucine_core.ports import RateDecision

__all__ = ["InMemoryRateLimiter", "RedisRateLimiter"]

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
