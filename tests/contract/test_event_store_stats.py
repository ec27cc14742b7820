"""EventStore, continued: what every adapter's sums and counts of events must agree with.

``summarize`` must equal ``lucine_core.stats.summarize`` of the period's events and
``count_per_period`` a plain count of them, on every adapter; the dashboard's use cases
built on them must give what the events, dated in the shop's time zone, say.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lucine_adapters.bootstrap import bootstrap_in_memory
from lucine_adapters.system import FixedClock
from lucine_core import events as ev
from lucine_core.enums import EventType
from lucine_core.errors import ValidationError
from lucine_core.events import AnalyticsEvent
from lucine_core.ports import UnitOfWorkFactory
from lucine_core.services.analytics import daily_counts, stats
from lucine_core.sla import SlaPolicy
from lucine_core.stats import EventSummary, compute_stats, stats_of, summarize
from tests.contract.builders import T0, at, event
from tests.contract.conftest import AdapterOpener

_US = timedelta(microseconds=1)
_SINCE, _UNTIL = T0, T0 + timedelta(days=1)
_SLA = SlaPolicy()
# Function-scoped fixtures are fine here: the opener is stateless, each example opens its own.
_ONE_DB_PER_EXAMPLE = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


async def _store(uow_factory: UnitOfWorkFactory, events: Sequence[AnalyticsEvent]) -> None:
    async with uow_factory() as uow:
        await uow.events.add(list(events))
        await uow.commit()


async def _summarize(
    uow_factory: UnitOfWorkFactory, since: datetime, until: datetime, sla: SlaPolicy = _SLA
) -> EventSummary:
    async with uow_factory() as uow:
        return await uow.events.summarize(since=since, until=until, sla=sla)


def _answer(latency_ms: int, *sources: str) -> ev.KbAnswer:
    return ev.KbAnswer(
        sources=sources, confidence=0.9, latency_ms=latency_ms, escalation_offered=False
    )


def _connected(queue_seconds: float | None) -> ev.OperatorConnected:
    return ev.OperatorConnected(queue_seconds=queue_seconds, assignment="auto")


def _resolved(*, within_sla: bool) -> ev.TicketResolved:
    return ev.TicketResolved(ticket_id="t-1", resolution_seconds=60.0, within_sla=within_sla)


_STARTED = ev.SessionStarted(language="it")
_ASKED = ev.EscalationRequest(trigger="button", available_operators=1, queue_position=1)
_FAILED = ev.EscalationFailed(reason="nobody_online", fallback="ticket")


async def test_a_day_adds_up_as_the_dashboard_defines_it(uow_factory: UnitOfWorkFactory) -> None:
    """A known day's chats, AI resolutions, escalations, means and SLA are those counted by hand."""
    inside = _SINCE + timedelta(hours=1)
    day = [
        # s-1 is resolved by the assistant; its start on the lower bound counts.
        event(_STARTED, happened=_SINCE, session_id="s-1"),
        event(_answer(100, "kb-1"), happened=inside, session_id="s-1"),
        # s-2 and s-6 escalated (requested, failed), s-3 reached an operator: not the AI's.
        event(_STARTED, happened=inside, session_id="s-2"),
        event(_answer(200, "kb-1"), happened=inside, session_id="s-2"),
        event(_ASKED, happened=inside, session_id="s-2"),
        event(_STARTED, happened=inside, session_id="s-3"),
        event(_answer(300, "kb-1", "kb-2"), happened=inside, session_id="s-3"),
        event(_connected(None), happened=inside, session_id="s-3"),
        # s-4's answer cites nothing; s-5 started the day before.
        event(_STARTED, happened=inside, session_id="s-4"),
        event(_answer(400), happened=inside, session_id="s-4"),
        event(_STARTED, happened=_SINCE - _US, session_id="s-5"),
        event(_answer(500, "kb-1"), happened=inside, session_id="s-5"),
        event(_STARTED, happened=inside, session_id="s-6"),
        event(_answer(600, "kb-1"), happened=inside, session_id="s-6"),
        event(_FAILED, happened=inside, session_id="s-6"),
        # s-7 starts in the day's last microsecond and leaves the queue; s-8 starts after.
        event(_STARTED, happened=_UNTIL - _US, session_id="s-7"),
        event(
            ev.ChatAbandoned(stage="queue", waited_seconds=5.0), happened=inside, session_id="s-7"
        ),
        event(_STARTED, happened=_UNTIL, session_id="s-8"),
        # Targets: three met, three missed (the unmeasured wait of s-3 is neither).
        event(_connected(180.0), happened=inside, session_id="s-9"),
        event(_connected(180.5), happened=inside, session_id="s-10"),
        event(ev.OperatorFirstResponse(response_ms=30_000), happened=inside, session_id="s-9"),
        event(ev.OperatorFirstResponse(response_ms=31_000), happened=inside, session_id="s-10"),
        event(_resolved(within_sla=True), happened=inside, session_id=None),
        event(_resolved(within_sla=False), happened=inside, session_id=None),
        event(ev.FeedbackGiven(rating=5, has_comment=False), happened=inside, session_id="s-9"),
        event(ev.FeedbackGiven(rating=4, has_comment=True), happened=inside, session_id="s-10"),
        event(ev.FeedbackGiven(rating=1, has_comment=False), happened=_UNTIL, session_id="s-8"),
        # Not a type the stats read: its response time is no operator's first response.
        event(ev.ChatMessage(sender="OPERATOR", length=3, response_ms=1), happened=inside),
    ]
    await _store(uow_factory, day)
    summary = await _summarize(uow_factory, _SINCE, _UNTIL)
    numbers = stats_of(summary, day=_SINCE.date(), operators=[], waiting_now=0)
    assert (numbers.total_chats, numbers.ai_resolved, numbers.escalated) == (6, 1, 2)
    assert (numbers.abandoned, numbers.ratings, numbers.satisfaction) == (1, 2, 4.5)
    assert numbers.avg_assistant_response_ms == 350.0
    assert numbers.avg_operator_first_response_s == 30.5
    assert (summary.sla_met, summary.sla_missed, numbers.sla_compliance) == (3, 3, 0.5)
    assert summary == summarize([e for e in day if _SINCE <= e.at < _UNTIL], sla=_SLA)


async def test_no_session_and_an_empty_one_are_one(uow_factory: UnitOfWorkFactory) -> None:
    """Events without a session id and with an empty one count as one session, as in the fold."""
    inside = _SINCE + timedelta(hours=1)
    await _store(
        uow_factory,
        [
            event(_STARTED, happened=inside, session_id=None),
            event(_STARTED, happened=inside, session_id=""),
            event(_answer(10, "kb-1"), happened=inside, session_id=None),
            event(_ASKED, happened=inside, session_id=""),
            event(_ASKED, happened=inside, session_id=None),
        ],
    )
    summary = await _summarize(uow_factory, _SINCE, _UNTIL)
    assert (summary.total_chats, summary.escalated, summary.ai_resolved) == (1, 1, 0)


async def test_no_events_sum_to_nothing(uow_factory: UnitOfWorkFactory) -> None:
    """A period without events (or with events only outside it) is all zeros and no means."""
    assert await _summarize(uow_factory, _SINCE, _UNTIL) == EventSummary()
    await _store(uow_factory, [event(_STARTED, happened=_UNTIL), event(happened=_SINCE - _US)])
    summary = await _summarize(uow_factory, _SINCE, _UNTIL)
    numbers = stats_of(summary, day=_SINCE.date(), operators=[], waiting_now=0)
    assert summary == EventSummary()
    assert (numbers.avg_assistant_response_ms, numbers.satisfaction) == (None, None)
    assert numbers.sla_compliance is None


_moments = st.sampled_from([_SINCE - _US, _SINCE, _UNTIL - _US, _UNTIL]) | st.integers(
    -60, 25 * 60
).map(at)
_queue_seconds = (
    st.none()
    | st.sampled_from([0.0, 179.999999, 180.0, 180.000001])
    | st.integers(0, 10**9).map(lambda us: timedelta(microseconds=us).total_seconds())
)
_payloads = st.one_of(
    st.just(_STARTED),
    st.builds(
        ev.KbAnswer,
        sources=st.sampled_from([(), ("kb-1",), ("kb-1", "kb-2")]),
        confidence=st.just(0.5),
        latency_ms=st.integers(0, 120_000),
        escalation_offered=st.booleans(),
    ),
    st.sampled_from([_ASKED, _FAILED]),
    st.builds(_connected, _queue_seconds),
    st.builds(
        ev.OperatorFirstResponse,
        response_ms=st.sampled_from([0, 29_999, 30_000, 30_001]) | st.integers(0, 10**7),
    ),
    st.builds(ev.ChatAbandoned, stage=st.just("queue"), waited_seconds=st.floats(0, 1e4)),
    st.builds(_resolved, within_sla=st.booleans()),
    st.builds(ev.FeedbackGiven, rating=st.integers(1, 5), has_comment=st.booleans()),
    st.builds(
        ev.ChatMessage, sender=st.just("OPERATOR"), length=st.just(3), response_ms=st.just(1)
    ),
)
_events = st.lists(
    st.builds(
        event,
        _payloads,
        happened=_moments,
        session_id=st.sampled_from(["s-1", "s-2", "s-3", "", None]),
    ),
    max_size=30,
)
_policies = st.sampled_from(
    [_SLA, SlaPolicy(first_response=timedelta(milliseconds=1), queue_wait=timedelta(0))]
)


@_ONE_DB_PER_EXAMPLE
@given(events=_events, sla=_policies)
async def test_summary_agrees_with_the_fold(
    adapter: AdapterOpener, events: list[AnalyticsEvent], sla: SlaPolicy
) -> None:
    """For any events, the store's summary of a day is the fold of the day's events."""
    async with adapter() as uow_factory:
        await _store(uow_factory, events)
        found = await _summarize(uow_factory, _SINCE, _UNTIL, sla)
    assert found == summarize([e for e in events if _SINCE <= e.at < _UNTIL], sla=sla)


_KINDS = (ev.SessionStarted(language="en"), _ASKED, ev.OperatorLogin(username="anna"))


@_ONE_DB_PER_EXAMPLE
@given(
    rows=st.lists(st.tuples(st.integers(0, 20), st.sampled_from(_KINDS)), max_size=20),
    bounds=st.lists(st.integers(0, 21), max_size=5, unique=True).map(sorted),
    types=st.lists(st.sampled_from([event(k).type for k in _KINDS]), min_size=1, unique=True),
)
async def test_counts_per_period_agree_with_a_count(
    adapter: AdapterOpener,
    rows: list[tuple[int, ev.Payload]],
    bounds: list[int],
    types: list[EventType],
) -> None:
    """Each period ``[bounds[i], bounds[i + 1])`` gets the number of its events of each type."""
    events = [event(payload, happened=at(m)) for m, payload in rows]
    expected = [
        {k: sum(1 for m, p in rows if lo <= m < hi and event(p).type is k) for k in types}
        for lo, hi in itertools.pairwise(bounds)
    ]
    async with adapter() as uow_factory:
        await _store(uow_factory, events)
        async with uow_factory() as uow:
            found = await uow.events.count_per_period(types=types, bounds=[at(b) for b in bounds])
    assert [dict(counts) for counts in found] == expected


@pytest.mark.parametrize("bounds", [[at(1), at(1)], [at(2), at(1)], [at(0), at(2), at(1)]])
async def test_counts_refuse_bounds_out_of_order(
    uow_factory: UnitOfWorkFactory, bounds: list[datetime]
) -> None:
    """Bounds that do not strictly increase are a ValidationError, not a silent miscount."""
    async with uow_factory() as uow:
        with pytest.raises(ValidationError):
            await uow.events.count_per_period(types=[EventType.SESSION_STARTED], bounds=bounds)


_ROME = ZoneInfo("Europe/Rome")
# Days whose clocks change in Rome (23 and 25 hours long), with the day before and after.
_CHANGES = (date(2026, 3, 29), date(2026, 10, 25))


def _midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=_ROME).astimezone(UTC)


@st.composite
def _around_a_change(draw: st.DrawFn) -> tuple[date, list[AnalyticsEvent]]:
    day = draw(st.sampled_from(_CHANGES))
    edges = [_midnight(day + timedelta(days=n)) for n in (-1, 0, 1, 2)]
    moments = st.sampled_from([e + d for e in edges for d in (-_US, timedelta(0))]) | st.integers(
        0, 4 * 24 * 60
    ).map(lambda m: edges[0] - timedelta(hours=1) + timedelta(minutes=m))
    events = st.builds(
        event, _payloads | st.just(_ASKED), happened=moments, session_id=st.sampled_from(["a", "b"])
    )
    return day, draw(st.lists(events, max_size=25))


@_ONE_DB_PER_EXAMPLE
@given(case=_around_a_change())
async def test_dashboard_days_follow_the_shops_clock(
    adapter: AdapterOpener, case: tuple[date, list[AnalyticsEvent]]
) -> None:
    """The chart's days and a day's stats hold the events of that local day, across DST."""
    day, events = case
    base = bootstrap_in_memory(kb_items=[], clock=FixedClock(_midnight(day) + timedelta(hours=30)))
    days = [day - timedelta(days=1), day, day + timedelta(days=1)]

    def on(d: date) -> list[AnalyticsEvent]:
        return [e for e in events if e.at.astimezone(_ROME).date() == d]

    async with adapter() as uow_factory:
        await _store(uow_factory, events)
        services = attrs.evolve(base, uow=uow_factory)
        chart = await daily_counts(services, days=3)
        numbers = await stats(services, day=day)
    assert [(c.day, c.chats, c.escalated) for c in chart] == [
        (
            d,
            sum(e.type is EventType.SESSION_STARTED for e in on(d)),
            sum(e.type is EventType.ESCALATION_REQUEST for e in on(d)),
        )
        for d in days
    ]
    expected = compute_stats(on(day), day=day, operators=[], waiting_now=0, sla=_SLA)
    assert numbers == expected
