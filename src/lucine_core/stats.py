"""Statistics as pure functions of analytics events."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from datetime import date

import attrs

from lucine_core import events as ev
from lucine_core.enums import EventType
from lucine_core.operators import OperatorView
from lucine_core.sla import SlaPolicy

__all__ = ["STATS_EVENT_TYPES", "DayCount", "Stats", "compute_stats", "count_days"]

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


def _mean(values: Sequence[float]) -> float | None:
    return round(statistics.fmean(values), 2) if values else None


def compute_stats(
    events: Iterable[ev.AnalyticsEvent],
    *,
    day: date,
    operators: Sequence[OperatorView],
    waiting_now: int,
    sla: SlaPolicy,
) -> Stats:
    """Fold one day's events into the dashboard's numbers."""
    started: set[str] = set()
    answered: set[str] = set()
    escalated: set[str] = set()
    humans: set[str] = set()
    abandoned = 0
    latencies: list[float] = []
    first_responses: list[float] = []
    ratings: list[float] = []
    met = missed = 0
    for event in events:
        sid, payload = event.session_id or "", event.payload
        if isinstance(payload, ev.SessionStarted):
            started.add(sid)
        elif isinstance(payload, ev.KbAnswer):
            latencies.append(payload.latency_ms)
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
            first_responses.append(payload.response_ms / 1000)
            ok = payload.response_ms <= sla.first_response.total_seconds() * 1000
            met, missed = met + ok, missed + (not ok)
        elif isinstance(payload, ev.TicketResolved):
            met, missed = met + payload.within_sla, missed + (not payload.within_sla)
        elif isinstance(payload, ev.FeedbackGiven):
            ratings.append(payload.rating)
    return Stats(
        day=day,
        total_chats=len(started),
        ai_resolved=len((answered & started) - escalated - humans),
        escalated=len(escalated),
        abandoned=abandoned,
        avg_assistant_response_ms=_mean(latencies),
        avg_operator_first_response_s=_mean(first_responses),
        satisfaction=_mean(ratings),
        ratings=len(ratings),
        sla_compliance=round(met / (met + missed), 4) if met + missed else None,
        operators_online=sum(
            1 for o in operators if o.availability.value == "ONLINE" and not o.disabled
        ),
        operators=operators,
        waiting_now=waiting_now,
    )


@attrs.frozen(kw_only=True)
class DayCount:
    """Chats, escalations and AI-resolved chats of one day, for the dashboard's chart."""

    day: date
    chats: int
    escalated: int


def count_days(days: Sequence[date], starts: Iterable[tuple[date, EventType]]) -> list[DayCount]:
    """Count session starts and escalations per day, with a zero for days without any."""
    chats = dict.fromkeys(days, 0)
    escalations = dict.fromkeys(days, 0)
    for day, kind in starts:
        if day in chats:
            if kind is EventType.SESSION_STARTED:
                chats[day] += 1
            else:
                escalations[day] += 1
    return [DayCount(day=d, chats=chats[d], escalated=escalations[d]) for d in days]
