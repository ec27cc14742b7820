"""Fixed-window rate limits: in-process (one worker) or in Redis (shared by every worker)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from redis.asyncio import Redis
from redis.exceptions import RedisError

from lucine_core.errors import ExternalServiceError
from lucine_core.ports import RateDecision

__all__ = ["InMemoryRateLimiter", "RedisRateLimiter"]


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
    """Counters in Redis (INCR + EXPIRE per window), shared by every worker."""

    def __init__(self, redis: Redis, *, prefix: str = "lucine:rl:") -> None:
        self._redis = redis
        self._prefix = prefix

    def _key(self, key: str, index: int) -> str:
        return f"{self._prefix}{key}:{index}"

    async def hit(self, key: str, *, limit: int, window: timedelta, now: datetime) -> RateDecision:
        """Count an attempt."""
        index, retry = _window(now, window)
        name = self._key(key, index)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(name)
                pipe.expire(name, retry + 1)
                count, _ = await pipe.execute()
        except RedisError as error:
            raise ExternalServiceError(service="redis", reason=type(error).__name__) from error
        return _decide(int(count), limit, retry)

    async def peek(self, key: str, *, limit: int, window: timedelta, now: datetime) -> RateDecision:
        """Would one more attempt pass?"""
        index, retry = _window(now, window)
        try:
            raw = await self._redis.get(self._key(key, index))
        except RedisError as error:
            raise ExternalServiceError(service="redis", reason=type(error).__name__) from error
        return _decide(int(raw or 0) + 1, limit, retry)

    async def reset(self, key: str) -> None:
        """Forget the key's attempts (every window)."""
        try:
            async for name in self._redis.scan_iter(match=f"{self._prefix}{key}:*"):
                await self._redis.delete(name)
        except RedisError as error:
            raise ExternalServiceError(service="redis", reason=type(error).__name__) from error
