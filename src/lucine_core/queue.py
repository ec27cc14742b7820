"""The queue of visitors waiting for a human, and the rules for handing chats out."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

import attrs

from lucine_core.enums import QueueStatus
from lucine_core.errors import ConflictError
from lucine_core.operators import Operator

__all__ = [
    "DEFAULT_HANDLING_TIME",
    "QueueEntry",
    "estimate_wait",
    "pick_operator",
    "queue_order",
    "queue_position",
]

DEFAULT_HANDLING_TIME = timedelta(minutes=2)
"""Assumed wait per position when there is no recent history to learn from."""

_NEVER = datetime.min.replace(tzinfo=UTC)


@attrs.define(kw_only=True)
class QueueEntry:
    """A session's request for a human.

    Attributes:
        id: Unique id.
        session_id: The waiting session; it has at most one WAITING entry at a time.
        requested_at: When the visitor asked.
        priority: Higher first; equal priorities are served in order of request.
        status: WAITING until ASSIGNED or CANCELLED.
        operator_id: Who got it.
        resolved_at: When it was assigned or cancelled.
        reason: Why it was cancelled.
    """

    id: str
    session_id: str
    requested_at: datetime
    priority: int = 0
    status: QueueStatus = QueueStatus.WAITING
    operator_id: str | None = None
    resolved_at: datetime | None = None
    reason: str | None = None

    def assign(self, operator_id: str, at: datetime) -> None:
        """Mark as taken by ``operator_id``.

        Raises:
            ConflictError: the entry is no longer waiting (taken or cancelled).
        """
        if self.status is not QueueStatus.WAITING:
            raise ConflictError(reason="the chat is no longer waiting")
        self.status = QueueStatus.ASSIGNED
        self.operator_id = operator_id
        self.resolved_at = at

    def cancel(self, at: datetime, reason: str) -> None:
        """Withdraw the request (visitor left, chat handed back, session ended)."""
        if self.status is QueueStatus.WAITING:
            self.status = QueueStatus.CANCELLED
            self.resolved_at = at
            self.reason = reason

    @property
    def waited(self) -> timedelta | None:
        """How long the visitor waited, once the entry is resolved."""
        return None if self.resolved_at is None else self.resolved_at - self.requested_at


def queue_order(entry: QueueEntry) -> tuple[int, datetime, str]:
    """Sort key of the waiting queue: priority first, then first come, first served."""
    return (-entry.priority, entry.requested_at, entry.id)


def queue_position(session_id: str, waiting: Iterable[QueueEntry]) -> int | None:
    """1-based position of the session among waiting entries, or None if it is not waiting."""
    ordered = sorted((e for e in waiting if e.status is QueueStatus.WAITING), key=queue_order)
    for index, entry in enumerate(ordered, start=1):
        if entry.session_id == session_id:
            return index
    return None


def estimate_wait(
    position: int, recent_waits: Sequence[timedelta], *, free_slots: int, online_operators: int
) -> timedelta:
    """Estimate how long the visitor at ``position`` will wait.

    A visitor within the number of free slots (ONLINE operators' unused capacity) is
    served about at once. Beyond that, each position takes the median recent wait
    (DEFAULT_HANDLING_TIME with no history) shared among the online operators.
    """
    if position <= free_slots:
        return timedelta(0)
    per_position = (
        timedelta(seconds=statistics.median(w.total_seconds() for w in recent_waits))
        if recent_waits
        else DEFAULT_HANDLING_TIME
    )
    return per_position * (position - free_slots) / max(1, online_operators)


def pick_operator(operators: Iterable[Operator], loads: Mapping[str, int]) -> Operator | None:
    """Round-robin: the ONLINE operator under capacity assigned least recently.

    Operators never assigned come first; ties are broken by id, so the choice is
    deterministic for the same inputs.
    """
    eligible = [o for o in operators if o.receives_chats and loads.get(o.id, 0) < o.capacity]
    if not eligible:
        return None
    return min(eligible, key=lambda o: (o.last_assigned_at or _NEVER, o.id))
