"""What every use case receives: the ports, the policies, and a transaction helper."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

import attrs

from lucine_core.errors import ConcurrencyError
from lucine_core.escalation import EscalationPolicy
from lucine_core.ports import (
    Clock,
    EventPublisher,
    IdFactory,
    KnowledgeBase,
    Notifier,
    PasswordHasher,
    RateLimiter,
    RealtimeEvent,
    Responder,
    TextGrouper,
    TokenIssuer,
    UnitOfWork,
    UnitOfWorkFactory,
)
from lucine_core.sla import SlaPolicy

__all__ = ["Policies", "RetentionPolicy", "Services", "TimeoutPolicy", "transaction"]

T = TypeVar("T")


@attrs.frozen(kw_only=True)
class TimeoutPolicy:
    """Inactivity rules of DESIGN.md.

    Attributes:
        inactivity: Silence after which ACTIVE goes IDLE and WITH_OPERATOR goes WAITING_CLIENT.
        end_after: Silence after the last activity or state change after which a session ENDS.
    """

    inactivity: timedelta = timedelta(minutes=10)
    end_after: timedelta = timedelta(minutes=30)


@attrs.frozen(kw_only=True)
class RetentionPolicy:
    """How long things are kept before the purge job deletes them."""

    analytics: timedelta = timedelta(days=90)
    audit: timedelta = timedelta(days=90)
    chats: timedelta = timedelta(days=365)


@attrs.frozen(kw_only=True)
class Policies:
    """Every tunable rule, as data.

    Attributes:
        escalation: When the assistant offers a human.
        sla: Response and resolution targets.
        timeouts: Inactivity rules.
        retention: How long data is kept.
        auto_assign: Hand waiting chats to operators round-robin (else operators take them).
        retrieval_limit: How many knowledge-base items ground an answer.
        history_turns: How many earlier messages a responder sees.
        timezone: The shop's time zone, which decides what "today" means in stats.
        opening_retry_window: How long the client message id of a chat's first message
            finds that chat again; a retry of it later is a ConflictError, so the id does
            not stay a second key to the chat.
    """

    escalation: EscalationPolicy = EscalationPolicy()
    sla: SlaPolicy = SlaPolicy()
    timeouts: TimeoutPolicy = TimeoutPolicy()
    retention: RetentionPolicy = RetentionPolicy()
    auto_assign: bool = True
    retrieval_limit: int = 3
    history_turns: int = 6
    timezone: str = "Europe/Rome"
    opening_retry_window: timedelta = timedelta(minutes=10)


@attrs.frozen(kw_only=True)
class Services:
    """One instance per port plus the policies: what the composition root builds."""

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdFactory
    kb: KnowledgeBase
    responder: Responder
    hasher: PasswordHasher
    notifier: Notifier
    publisher: EventPublisher
    tokens: TokenIssuer
    limiter: RateLimiter
    grouper: TextGrouper
    policies: Policies = Policies()


async def transaction(
    services: Services, work: Callable[[UnitOfWork], Awaitable[T]], *, attempts: int = 5
) -> T:
    """Run ``work`` in a unit of work and commit; on a concurrent update, run it again.

    ``work`` must read everything it needs through the unit of work it is given, so a
    retry sees the other writer's result (e.g. the second taker of a chat then gets a
    ConflictError from the domain rather than a silent overwrite).

    Raises:
        ConcurrencyError: still conflicting after ``attempts`` tries.
    """
    for attempt in range(1, attempts + 1):
        try:
            async with services.uow() as uow:
                result = await work(uow)
                await uow.commit()
                return result
        except ConcurrencyError:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


async def publish_all(services: Services, events: list[RealtimeEvent]) -> None:
    """Push committed changes to widgets and dashboards."""
    if events:
        await services.publisher.publish(*events)
