"""Clocks and id factories."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

__all__ = ["FixedClock", "FixedIdFactory", "SecretsIdFactory", "SystemClock"]


class SystemClock:
    """The machine's clock, in UTC."""

    def now(self) -> datetime:
        """The current time."""
        return datetime.now(UTC)


class FixedClock:
    """A clock that only moves when told to: for tests, demos and replays."""

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime(2026, 12, 8, 17, 30, tzinfo=UTC)
        if start.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware start")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        """The time it was set to."""
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by ``delta`` (never backward) and return the new time."""
        if delta < timedelta(0):
            raise ValueError("time does not go backward")
        self._now += delta
        return self._now

    def set(self, moment: datetime) -> None:
        """Jump to ``moment`` (not earlier than now)."""
        if moment < self._now:
            raise ValueError("time does not go backward")
        self._now = moment.astimezone(UTC)


class SecretsIdFactory:
    """Ids from the operating system's CSPRNG.

    Session ids carry 192 random bits (32 URL-safe characters): they are the visitor's
    only key, so they must be unguessable. Other ids carry 128 bits.
    """

    def session_id(self) -> str:
        """A new session id."""
        return secrets.token_urlsafe(24)

    def new_id(self) -> str:
        """A new record id."""
        return secrets.token_hex(16)


class FixedIdFactory:
    """Predictable ids (``s000001``, ``r000001`` ...): for tests that compare two runs.

    Never use it in production: session ids must be unguessable.
    """

    def __init__(self) -> None:
        self._count = 0

    def _next(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}{self._count:06d}"

    def session_id(self) -> str:
        """The next session id."""
        return self._next("s")

    def new_id(self) -> str:
        """The next record id."""
        return self._next("r")
