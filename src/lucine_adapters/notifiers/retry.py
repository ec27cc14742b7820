"""Attempts with exponential backoff, shared by the notifiers that talk to servers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from lucine_core.errors import ExternalServiceError, ValidationError

__all__ = ["check_attempts", "with_retries"]

MAX_BACKOFF = 30.0
"""The longest wait between two attempts, in seconds."""


def check_attempts(attempts: int, backoff: float, timeout: float) -> None:
    """Refuse retry settings that make no sense.

    Raises:
        ValidationError: fewer than one attempt, a negative backoff, or no timeout.
    """
    if attempts < 1:
        raise ValidationError(field="attempts", reason="must be at least 1")
    if backoff < 0:
        raise ValidationError(field="backoff", reason="must not be negative")
    if timeout <= 0:
        raise ValidationError(field="timeout", reason="must be positive")


async def with_retries(
    attempt: Callable[[], Awaitable[None]], *, attempts: int, backoff: float
) -> None:
    """Run ``attempt`` until it succeeds, up to ``attempts`` times.

    An ``ExternalServiceError`` with ``retryable`` set is tried again after ``backoff``
    seconds, then twice that, and so on (at most ``MAX_BACKOFF``); any other error, or
    the last attempt's, is raised at once with the attempt count added to its reason.

    Raises:
        ExternalServiceError: the last attempt failed, or one failed for good.
    """
    for number in range(1, attempts + 1):
        try:
            await attempt()
        except ExternalServiceError as error:
            if error.retryable and number < attempts:
                await asyncio.sleep(min(MAX_BACKOFF, backoff * 2 ** (number - 1)))
                continue
            raise ExternalServiceError(
                service=error.service,
                reason=f"{error.reason} (attempt {number} of {attempts})",
                retryable=error.retryable,
            ) from None
        return
