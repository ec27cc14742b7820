"""Statistics and the event log for the dashboard."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from lucine_core.enums import EventType
from lucine_core.errors import ValidationError
from lucine_core.events import AnalyticsEvent
from lucine_core.services.context import Services
from lucine_core.stats import STATS_EVENT_TYPES, DayCount, Stats, compute_stats, count_days

__all__ = ["daily_counts", "list_events", "stats"]

_MAX_EVENTS = 1000


def _day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=zone)
    return start, datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)


async def stats(services: Services, *, day: date | None = None) -> Stats:
    """The numbers of ``day`` (today in the shop's time zone by default)."""
    zone = ZoneInfo(services.policies.timezone)
    day = day or services.clock.now().astimezone(zone).date()
    since, until = _day_bounds(day, zone)
    async with services.uow() as uow:
        events = await uow.events.list(types=STATS_EVENT_TYPES, since=since, until=until)
        loads = await uow.sessions.loads()
        operators = [o.view(loads.get(o.id, 0)) for o in await uow.operators.list()]
        waiting = len(await uow.queue.list_waiting())
    return compute_stats(
        events, day=day, operators=operators, waiting_now=waiting, sla=services.policies.sla
    )


async def daily_counts(services: Services, *, days: int = 14) -> list[DayCount]:
    """Chats and escalations per day over the last ``days`` days, oldest first."""
    if not 1 <= days <= 366:  # noqa: PLR2004 - a year of days is the longest chart
        raise ValidationError(field="days", reason="must be 1-366")
    zone = ZoneInfo(services.policies.timezone)
    today = services.clock.now().astimezone(zone).date()
    window = [today - timedelta(days=n) for n in range(days - 1, -1, -1)]
    since, _ = _day_bounds(window[0], zone)
    async with services.uow() as uow:
        events = await uow.events.list(
            types=(EventType.SESSION_STARTED, EventType.ESCALATION_REQUEST), since=since
        )
    return count_days(window, ((e.at.astimezone(zone).date(), e.type) for e in events))


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
    async with services.uow() as uow:
        return await uow.events.list(types=types, since=since, limit=limit)
