"""Statistics as pure functions of analytics events."""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Sequence
from datetime import date, datetime

import attrs

from lucine_core import events as ev
from lucine_core.enums import EventType
from lucine_core.errors import ValidationError
from lucine_core.operators import OperatorView
from lucine_core.sla import SlaPolicy

__all__ = [
    "STATS_EVENT_TYPES",
    "DayCount",
    "EventSummary",
    "Stats",
    "check_bounds",
    "compute_stats",
    "period_of",
    "stats_of",
    "summarize",
]

STATS_EVENT_TYPES = (
    EventType.SESSION_STARTED,
    EventType.KB_ANSWER,
    EventType.ESCALATION_REQUEST,
    EventType.ESCALATION_FAILED,
    EventType.OPERATOR_CONNECTED,
    EventType.OPERATOR_FIRST_RESPONSE,
    EventType.CHAT_ABANDONED,
    EventType.TICKET_RESOLVED,
    EventType.FEEDBACK_GIVEN,
)
"""The only event types the day's numbers read (chat messages, the bulk, are not among them)."""


@attrs.frozen(kw_only=True)
class Stats:
    """A day's numbers for the dashboard.

    Attributes:
        day: The day (in the shop's time zone).
        total_chats: Sessions started.
        ai_resolved: Sessions answered from the knowledge base that never needed a human.
        escalated: Sessions where the visitor asked for a human (queued or not).
        abandoned: Visitors who left while waiting for a human.
        avg_assistant_response_ms: Mean time the assistant took to answer.
        avg_operator_first_response_s: Mean time from assignment to an operator's first reply.
        satisfaction: Mean rating (1-5), over ``ratings`` ratings.
        sla_compliance: Share of measured targets met (first responses, queue waits, tickets).
        operators_online: ONLINE operators now.
        operators: Every operator with their current load.
        waiting_now: Visitors in the queue now.
    """

    day: date
    total_chats: int
    ai_resolved: int
    escalated: int
    abandoned: int
    avg_assistant_response_ms: float | None
    avg_operator_first_response_s: float | None
    satisfaction: float | None
    ratings: int
    sla_compliance: float | None
    operators_online: int
    operators: Sequence[OperatorView]
    waiting_now: int


def _mean(total: float, count: int, *, scale: int = 1) -> float | None:
    # One division of the exact total: the same figure whichever store added it up.
    return round(total / (count * scale), 2) if count else None


@attrs.frozen(kw_only=True)
class EventSummary:
    """What a period's analytics events add up to: the event-derived part of `Stats`.

    Totals are kept with their counts (not as means) so any store can add them up and
    the means are then taken in one place.

    Attributes:
        total_chats: Sessions started.
        ai_resolved: Of those, sessions with a knowledge-base answer citing sources and
            no escalation (requested or failed) and no operator in the period.
        escalated: Sessions with an escalation requested or failed.
        abandoned: Visitors who left while waiting (events, not sessions).
        kb_answers: Knowledge-base answers, and ``kb_latency_ms`` their summed latency.
        kb_latency_ms: Sum of the answers' ``latency_ms``.
        first_responses: Operators' first replies.
        first_response_ms: Sum of their ``response_ms``.
        ratings: Ratings given.
        rating_total: Sum of the ratings.
        sla_met: Targets met: queue waits (when measured), first responses, tickets.
        sla_missed: Targets missed, of the same.
    """

    total_chats: int = 0
    ai_resolved: int = 0
    escalated: int = 0
    abandoned: int = 0
    kb_answers: int = 0
    kb_latency_ms: float = 0
    first_responses: int = 0
    first_response_ms: float = 0
    ratings: int = 0
    rating_total: float = 0
    sla_met: int = 0
    sla_missed: int = 0


def summarize(events: Iterable[ev.AnalyticsEvent], *, sla: SlaPolicy) -> EventSummary:
    """Fold events into their summary (types outside `STATS_EVENT_TYPES` count for nothing).

    This is the definition every `EventStore.summarize` must agree with.
    """
    started: set[str] = set()
    answered: set[str] = set()
    escalated: set[str] = set()
    humans: set[str] = set()
    abandoned = answers = first_responses = ratings = met = missed = 0
    latency_ms = response_ms = rating_total = 0.0
    for event in events:
        sid, payload = event.session_id or "", event.payload
        if isinstance(payload, ev.SessionStarted):
            started.add(sid)
        elif isinstance(payload, ev.KbAnswer):
            answers, latency_ms = answers + 1, latency_ms + payload.latency_ms
            if payload.sources:
                answered.add(sid)
        elif event.type in (EventType.ESCALATION_REQUEST, EventType.ESCALATION_FAILED):
            escalated.add(sid)
        elif isinstance(payload, ev.OperatorConnected):
            humans.add(sid)
            if payload.queue_seconds is not None:
                ok = payload.queue_seconds <= sla.queue_wait.total_seconds()
                met, missed = met + ok, missed + (not ok)
        elif isinstance(payload, ev.ChatAbandoned):
            abandoned += 1
        elif isinstance(payload, ev.OperatorFirstResponse):
            first_responses, response_ms = first_responses + 1, response_ms + payload.response_ms
            ok = payload.response_ms <= sla.first_response.total_seconds() * 1000
            met, missed = met + ok, missed + (not ok)
        elif isinstance(payload, ev.TicketResolved):
            met, missed = met + payload.within_sla, missed + (not payload.within_sla)
        elif isinstance(payload, ev.FeedbackGiven):
            ratings, rating_total = ratings + 1, rating_total + payload.rating
    return EventSummary(
        total_chats=len(started),
        ai_resolved=len((answered & started) - escalated - humans),
        escalated=len(escalated),
        abandoned=abandoned,
        kb_answers=answers,
        kb_latency_ms=latency_ms,
        first_responses=first_responses,
        first_response_ms=response_ms,
        ratings=ratings,
        rating_total=rating_total,
        sla_met=met,
        sla_missed=missed,
    )


def stats_of(
    summary: EventSummary, *, day: date, operators: Sequence[OperatorView], waiting_now: int
) -> Stats:
    """The dashboard's numbers from a day's summary and the team's state now."""
    met, missed = summary.sla_met, summary.sla_missed
    return Stats(
        day=day,
        total_chats=summary.total_chats,
        ai_resolved=summary.ai_resolved,
        escalated=summary.escalated,
        abandoned=summary.abandoned,
        avg_assistant_response_ms=_mean(summary.kb_latency_ms, summary.kb_answers),
        avg_operator_first_response_s=_mean(
            summary.first_response_ms, summary.first_responses, scale=1000
        ),
        satisfaction=_mean(summary.rating_total, summary.ratings),
        ratings=summary.ratings,
        sla_compliance=round(met / (met + missed), 4) if met + missed else None,
        operators_online=sum(
            1 for o in operators if o.availability.value == "ONLINE" and not o.disabled
        ),
        operators=operators,
        waiting_now=waiting_now,
    )


def compute_stats(
    events: Iterable[ev.AnalyticsEvent],
    *,
    day: date,
    operators: Sequence[OperatorView],
    waiting_now: int,
    sla: SlaPolicy,
) -> Stats:
    """Fold one day's events into the dashboard's numbers."""
    return stats_of(
        summarize(events, sla=sla), day=day, operators=operators, waiting_now=waiting_now
    )


@attrs.frozen(kw_only=True)
class DayCount:
    """Chats started and escalations requested on one day, for the dashboard's chart."""

    day: date
    chats: int
    escalated: int


def period_of(at: datetime, bounds: Sequence[datetime]) -> int | None:
    """The index ``i`` of the period ``[bounds[i], bounds[i + 1])`` holding ``at``, if any.

    This is the definition every `EventStore.count_per_period` must agree with.
    """
    i = bisect.bisect_right(bounds, at) - 1
    return i if 0 <= i < len(bounds) - 1 else None


def check_bounds(bounds: Sequence[datetime]) -> None:
    """Refuse period bounds that do not strictly increase.

    Raises:
        ValidationError: two bounds are equal or out of order.
    """
    if any(a >= b for a, b in itertools.pairwise(bounds)):
        raise ValidationError(field="bounds", reason="must strictly increase")
