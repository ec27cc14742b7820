"""/api/analytics: the day's numbers, the event log and the daily chart."""

# Litestar reads handler annotations at run time: no postponed evaluation here.

from datetime import date, datetime
from typing import Annotated, Any

import msgspec
from litestar import Router, get
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter

from lucine_core.events import AnalyticsEvent
from lucine_core.operators import Operator
from lucine_core.services.analytics import daily_counts, list_events, stats
from lucine_core.services.privacy import to_jsonable
from lucine_core.stats import DayCount, Stats
from lucine_http.deps import App, current_operator
from lucine_http.routes.operators import OperatorOut, operator_out
from lucine_http.schemas import Camel

__all__ = ["DayOut", "EventOut", "StatsOut", "day_out", "event_out", "router", "stats_out"]


class TodayOut(Camel):
    """The day's chats."""

    total_chats: int
    ai_resolved: int
    escalated: int
    abandoned: int


class PerformanceOut(Camel):
    """How fast and how well the day's chats were answered."""

    avg_assistant_response_ms: float | None
    avg_operator_first_response_seconds: float | None
    satisfaction: float | None
    ratings: int
    sla_compliance: float | None


class OperatorsNowOut(Camel):
    """The team right now."""

    online: int
    waiting: int
    operators: list[OperatorOut] = msgspec.field(name="list")


class StatsOut(Camel):
    """The dashboard's numbers (v2.7 shape: today, performance, operators)."""

    today: TodayOut
    performance: PerformanceOut
    operators: OperatorsNowOut
    day: date


class EventOut(Camel):
    """One analytics event; the payload's fields depend on the type."""

    id: int
    type: str
    at: datetime
    session_id: str | None
    operator_id: str | None
    payload: dict[str, Any]


class DayOut(Camel):
    """One day of the chart."""

    day: date
    chats: int
    escalated: int


def stats_out(numbers: Stats) -> StatsOut:
    """The wire form of a day's numbers."""
    return StatsOut(
        today=TodayOut(
            total_chats=numbers.total_chats,
            ai_resolved=numbers.ai_resolved,
            escalated=numbers.escalated,
            abandoned=numbers.abandoned,
        ),
        performance=PerformanceOut(
            avg_assistant_response_ms=numbers.avg_assistant_response_ms,
            avg_operator_first_response_seconds=numbers.avg_operator_first_response_s,
            satisfaction=numbers.satisfaction,
            ratings=numbers.ratings,
            sla_compliance=numbers.sla_compliance,
        ),
        operators=OperatorsNowOut(
            online=numbers.operators_online,
            waiting=numbers.waiting_now,
            operators=[operator_out(o) for o in numbers.operators],
        ),
        day=numbers.day,
    )


def event_out(event: AnalyticsEvent) -> EventOut:
    """The wire form of an analytics event."""
    return EventOut(
        id=event.id,
        type=event.type.value,
        at=event.at,
        session_id=event.session_id,
        operator_id=event.operator_id,
        payload=to_jsonable(event.payload),
    )


def day_out(count: DayCount) -> DayOut:
    """The wire form of one day of the chart."""
    return DayOut(day=count.day, chats=count.chats, escalated=count.escalated)


@get("/stats", summary="A day's numbers (today by default)")
async def stats_route(
    app: NamedDependency[App],
    me: NamedDependency[Operator],
    day: Annotated[
        date | None, QueryParameter(description="YYYY-MM-DD in the shop's time zone")
    ] = None,
) -> StatsOut:
    """Chats, escalations, response times, satisfaction, SLA compliance and the team now."""
    return stats_out(await stats(app.services, day=day))


@get("/events", summary="The event log, oldest first")
async def events_route(
    app: NamedDependency[App],
    me: NamedDependency[Operator],
    event_type: Annotated[
        str | None, QueryParameter(name="type", max_length=40, description="Only this event type")
    ] = None,
    since: Annotated[
        datetime | None, QueryParameter(description="Only events from this time")
    ] = None,
    limit: Annotated[int, QueryParameter(description="At most this many, 1-1000")] = 200,
) -> list[EventOut]:
    """Payloads carry numbers, ids and labels, never what visitors wrote."""
    events = await list_events(app.services, event_type=event_type, since=since, limit=limit)
    return [event_out(e) for e in events]


@get("/daily", summary="Chats and escalations per day")
async def daily_route(
    app: NamedDependency[App],
    me: NamedDependency[Operator],
    days: Annotated[int, QueryParameter(description="How many days back, 1-366")] = 14,
) -> list[DayOut]:
    """Oldest first, with a zero for days without chats."""
    return [day_out(c) for c in await daily_counts(app.services, days=days)]


router = Router(
    path="/api/analytics",
    route_handlers=[stats_route, events_route, daily_route],
    dependencies={"me": Provide(current_operator)},
    tags=["analytics"],
)
