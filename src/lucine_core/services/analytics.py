"""Statistics and the event log for the dashboard."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from lucine_core.enums import EventType
from lucine_core.errors import ValidationError
from lucine_core.events import AnalyticsEvent
from lucine_core.services.context import Services
from lucine_core.stats import DayCount, Stats, stats_of

__all__ = ["daily_counts", "list_events", "stats"]

_MAX_EVENTS = 1000
_MAX_DAYS = 366
"""A year of days, leap day included: the longest chart or period."""


def _day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=zone)
    return start, datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)


async def stats(
    services: Services, *, day: date | None = None, through: date | None = None
) -> Stats:
    """The numbers of ``day`` (today in the shop's time zone by default).

    With ``through``, the numbers of the days from ``day`` to ``through`` inclusive,
    added up as one period (``Stats.day`` is then the first day). The team's figures
    (operators, queue) are always those of now.

    Raises:
        ValidationError: ``through`` is before ``day``, or the period exceeds 366 days.
    """
    zone = ZoneInfo(services.policies.timezone)
    day = day or services.clock.now().astimezone(zone).date()
    last = through or day
    if not 0 <= (last - day).days < _MAX_DAYS:
        raise ValidationError(field="through", reason=f"must be 0-{_MAX_DAYS - 1} days after day")
    since, until = _day_bounds(day, zone)[0], _day_bounds(last, zone)[1]
    async with services.uow(read_only=True) as uow:
        summary = await uow.events.summarize(since=since, until=until, sla=services.policies.sla)
        loads = await uow.sessions.loads()
        operators = [o.view(loads.get(o.id, 0)) for o in await uow.operators.list()]
        waiting = len(await uow.queue.list_waiting())
    return stats_of(summary, day=day, operators=operators, waiting_now=waiting)


async def daily_counts(
    services: Services, *, days: int = 14, last: date | None = None
) -> list[DayCount]:
    """Chats and escalations per day over ``days`` days up to ``last``, oldest first.

    ``last`` is today in the shop's time zone by default.

    Raises:
        ValidationError: ``days`` is not 1-366.
    """
    if not 1 <= days <= _MAX_DAYS:
        raise ValidationError(field="days", reason=f"must be 1-{_MAX_DAYS}")
    zone = ZoneInfo(services.policies.timezone)
    end = last or services.clock.now().astimezone(zone).date()
    window = [end - timedelta(days=n) for n in range(days - 1, -1, -1)]
    # Local midnights: a day across a change of clocks is 23 or 25 hours long.
    bounds = [_day_bounds(d, zone)[0] for d in window] + [_day_bounds(end, zone)[1]]
    kinds = (EventType.SESSION_STARTED, EventType.ESCALATION_REQUEST)
    async with services.uow(read_only=True) as uow:
        counts = await uow.events.count_per_period(types=kinds, bounds=bounds)
    return [
        DayCount(
            day=d, chats=n[EventType.SESSION_STARTED], escalated=n[EventType.ESCALATION_REQUEST]
        )
        for d, n in zip(window, counts, strict=True)
    ]


async def list_events(
    services: Services,
    *,
    event_type: str | None = None,
    since: datetime | None = None,
    limit: int = 200,
) -> Sequence[AnalyticsEvent]:
    """The event log, oldest first, optionally of one type.

    Raises:
        ValidationError: unknown type or limit out of range.
    """
    if not 1 <= limit <= _MAX_EVENTS:
        raise ValidationError(field="limit", reason=f"must be 1-{_MAX_EVENTS}")
    types = None
    if event_type:
        try:
            types = (EventType(event_type),)
        except ValueError:
            raise ValidationError(field="type", reason="unknown event type") from None
    async with services.uow(read_only=True) as uow:
        return await uow.events.list(types=types, since=since, limit=limit)
