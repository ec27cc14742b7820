"""The statements that add up analytics events in the database (SQLite and Postgres).

`summary_query` is `lucine_core.stats.summarize` in SQL: one row however many events
the day has. JSON fields are read with SQLAlchemy's JSON indexing, which renders
``JSON_EXTRACT`` on SQLite and ``->>``/``#>>`` on Postgres; a JSON null reads as SQL
NULL on both, so an unmeasured queue wait is neither met nor missed, as in the fold.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from itertools import pairwise
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    RowMapping,
    and_,
    case,
    column,
    func,
    not_,
    select,
    values,
)
from sqlalchemy.sql import Executable

from lucine_adapters.sql import tables as t
from lucine_core.enums import EventType
from lucine_core.sla import SlaPolicy
from lucine_core.stats import STATS_EVENT_TYPES, EventSummary

__all__ = ["period_counts", "period_query", "summary_from_row", "summary_query"]

_c = t.events.c
_ESCALATIONS = (EventType.ESCALATION_REQUEST.value, EventType.ESCALATION_FAILED.value)


def _is(kind: EventType) -> ColumnElement[bool]:
    return _c.type == kind.value


def _count(condition: ColumnElement[Any]) -> ColumnElement[int]:
    return func.sum(case((condition, 1), else_=0))


def _total(kind: EventType, field: str) -> ColumnElement[float]:
    return func.sum(case((_is(kind), _c.payload[field].as_float()), else_=None))


def _any(condition: ColumnElement[Any]) -> ColumnElement[int]:
    return func.max(case((condition, 1), else_=0))


def summary_query(since: datetime, until: datetime, sla: SlaPolicy) -> Executable:
    """One row of `EventSummary`'s fields over the events in ``[since, until)``.

    The inner query folds each session's events (``session_id`` NULL and ``''`` are one
    session, as in the fold); the outer one adds the sessions up.
    """
    queue_seconds = _c.payload["queue_seconds"].as_float()
    response_ms = _c.payload["response_ms"].as_float()
    within_sla = _c.payload["within_sla"].as_boolean()
    queue_target = sla.queue_wait.total_seconds()
    response_target = sla.first_response.total_seconds() * 1000
    connected, first = _is(EventType.OPERATOR_CONNECTED), _is(EventType.OPERATOR_FIRST_RESPONSE)
    resolved = _is(EventType.TICKET_RESOLVED)
    met = _count(
        (connected & (queue_seconds <= queue_target))
        | (first & (response_ms <= response_target))
        | and_(resolved, within_sla)
    )
    missed = _count(
        (connected & (queue_seconds > queue_target))
        | (first & (response_ms > response_target))
        | and_(resolved, not_(within_sla))
    )
    sessions = (
        select(
            _any(_is(EventType.SESSION_STARTED)).label("started"),
            _any(
                _is(EventType.KB_ANSWER) & _c.payload[("sources", 0)].as_string().is_not(None)
            ).label("answered"),
            _any(_c.type.in_(_ESCALATIONS)).label("escalated"),
            _any(connected).label("human"),
            _count(_is(EventType.CHAT_ABANDONED)).label("abandoned"),
            _count(_is(EventType.KB_ANSWER)).label("kb_answers"),
            _total(EventType.KB_ANSWER, "latency_ms").label("kb_latency_ms"),
            _count(first).label("first_responses"),
            _total(EventType.OPERATOR_FIRST_RESPONSE, "response_ms").label("first_response_ms"),
            _count(_is(EventType.FEEDBACK_GIVEN)).label("ratings"),
            _total(EventType.FEEDBACK_GIVEN, "rating").label("rating_total"),
            met.label("sla_met"),
            missed.label("sla_missed"),
        )
        .where(_c.type.in_([k.value for k in STATS_EVENT_TYPES]))
        .where(_c.at >= since, _c.at < until)
        .group_by(func.coalesce(_c.session_id, ""))
        .subquery()
    )
    s = sessions.c
    resolved_by_ai = (s.started == 1) & (s.answered == 1) & (s.escalated == 0) & (s.human == 0)
    return select(
        func.sum(s.started).label("total_chats"),
        _count(resolved_by_ai).label("ai_resolved"),
        func.sum(s.escalated).label("escalated"),
        *(
            func.sum(column).label(column.name)
            for column in (
                s.abandoned,
                s.kb_answers,
                s.kb_latency_ms,
                s.first_responses,
                s.first_response_ms,
                s.ratings,
                s.rating_total,
                s.sla_met,
                s.sla_missed,
            )
        ),
    )


def summary_from_row(row: RowMapping) -> EventSummary:
    """The summary from `summary_query`'s row (whose sums are NULL when there were no events)."""
    return EventSummary(
        total_chats=int(row["total_chats"] or 0),
        ai_resolved=int(row["ai_resolved"] or 0),
        escalated=int(row["escalated"] or 0),
        abandoned=int(row["abandoned"] or 0),
        kb_answers=int(row["kb_answers"] or 0),
        kb_latency_ms=float(row["kb_latency_ms"] or 0),
        first_responses=int(row["first_responses"] or 0),
        first_response_ms=float(row["first_response_ms"] or 0),
        ratings=int(row["ratings"] or 0),
        rating_total=float(row["rating_total"] or 0),
        sla_met=int(row["sla_met"] or 0),
        sla_missed=int(row["sla_missed"] or 0),
    )


def period_query(
    types: Sequence[EventType], bounds: Sequence[datetime], dialect: str
) -> Executable:
    """Rows ``(period, type, count)`` of the events of ``types`` in ``[bounds[0], bounds[-1])``.

    Period ``i`` is ``[bounds[i], bounds[i + 1])``, so the periods may be local days of any
    length (23 or 25 hours across a change of clocks). Each database gets the form it
    runs fast, both read from the (type, at) index (at 100k chats, 14 days, p50):

    - SQLite: the periods as a VALUES list joined to the events, each period one range of
      the index counted there (9.6 ms; a CASE over every bound for each event: 14.8 ms).
    - Postgres: one scan of the fortnight tagged by a CASE over the bounds (the VALUES
      join made it choose a 226 ms plan).
    """
    kinds = [k.value for k in types]
    if dialect == "sqlite":
        periods = (
            values(
                column("period", Integer),
                column("start", t.UtcDateTime()),
                column("stop", t.UtcDateTime()),
                name="periods",
            )
            .data([(i, start, stop) for i, (start, stop) in enumerate(pairwise(bounds))])
            .cte("periods")  # WITH periods(period, start, stop) AS (VALUES ...)
        )
        p = periods.c
        return (
            select(p.period, _c.type, func.count().label("count"))
            .select_from(periods)
            .join(t.events, and_(_c.type.in_(kinds), _c.at >= p.start, _c.at < p.stop))
            .group_by(p.period, _c.type)
        )
    period = case(*((_c.at < bound, i) for i, bound in enumerate(bounds[1:])))
    # Grouped in an outer query: Postgres would not match a GROUP BY of the CASE to the
    # selected CASE, their bound parameters being distinct.
    tagged = (
        select(period.label("period"), _c.type)
        .where(_c.type.in_(kinds))
        .where(_c.at >= bounds[0], _c.at < bounds[-1])
        .subquery()
    )
    return select(tagged.c.period, tagged.c.type, func.count().label("count")).group_by(
        tagged.c.period, tagged.c.type
    )


def period_counts(
    rows: Sequence[RowMapping], types: Sequence[EventType], periods: int
) -> list[dict[EventType, int]]:
    """`period_query`'s rows as one mapping per period, with a zero for every type absent."""
    counts = [dict.fromkeys(types, 0) for _ in range(periods)]
    for row in rows:
        counts[row["period"]][EventType(row["type"])] = int(row["count"])
    return counts
