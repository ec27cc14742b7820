"""Service-level targets and their arithmetic, as pure functions of start, target and now."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime, timedelta
from types import MappingProxyType

import attrs

from lucine_core.enums import TicketPriority

__all__ = ["SlaCheck", "SlaPolicy", "SlaState", "check", "reprioritised_due"]

_DEFAULT_TICKET_TARGETS: Mapping[TicketPriority, timedelta] = MappingProxyType(
    {
        TicketPriority.URGENT: timedelta(hours=1),
        TicketPriority.HIGH: timedelta(hours=2),
        TicketPriority.MEDIUM: timedelta(hours=4),
        TicketPriority.LOW: timedelta(hours=24),
    }
)


@attrs.frozen(kw_only=True)
class SlaPolicy:
    """Targets; each is one line to change.

    Attributes:
        first_response: An operator's first reply after taking a chat.
        queue_wait: A visitor's wait for a human after asking.
        ticket_resolution: Time to resolve a ticket, by priority.
        warning_ratio: Share of the target after which it is at risk.
    """

    first_response: timedelta = timedelta(seconds=30)
    queue_wait: timedelta = timedelta(minutes=3)
    ticket_resolution: Mapping[TicketPriority, timedelta] = _DEFAULT_TICKET_TARGETS
    warning_ratio: float = 0.8

    def ticket_target(self, priority: TicketPriority) -> timedelta:
        """The resolution target for a ticket of this priority."""
        return self.ticket_resolution[priority]


class SlaState(enum.StrEnum):
    """Where a clock stands against its target."""

    OK = "ok"
    WARNING = "warning"
    BREACHED = "breached"
    MET = "met"
    MISSED = "missed"


@attrs.frozen(kw_only=True)
class SlaCheck:
    """One clock measured against its target."""

    due_at: datetime
    warn_at: datetime
    state: SlaState

    @property
    def is_late(self) -> bool:
        """True when the target was or is being missed."""
        return self.state in (SlaState.BREACHED, SlaState.MISSED)


def check(
    *,
    started_at: datetime,
    target: timedelta,
    now: datetime,
    done_at: datetime | None = None,
    warning_ratio: float = 0.8,
) -> SlaCheck:
    """Measure a clock that started at ``started_at`` against ``target``.

    A clock that is done is MET or MISSED for good; a running one is OK, WARNING
    (past ``warning_ratio`` of the target) or BREACHED. The due time depends only on
    the start and the target, never on ``now``.
    """
    due_at = started_at + target
    warn_at = started_at + target * warning_ratio
    if done_at is not None:
        state = SlaState.MET if done_at <= due_at else SlaState.MISSED
    elif now > due_at:
        state = SlaState.BREACHED
    elif now >= warn_at:
        state = SlaState.WARNING
    else:
        state = SlaState.OK
    return SlaCheck(due_at=due_at, warn_at=warn_at, state=state)


def reprioritised_due(current_due: datetime, now: datetime, new_target: timedelta) -> datetime:
    """The due time after a priority change at ``now``: never earlier than the one promised."""
    return max(current_due, now + new_target)
