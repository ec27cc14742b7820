"""EventStore: what every adapter of analytics events must do."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lucine_core import events as ev
from lucine_core.enums import EventType
from lucine_core.events import AnalyticsEvent
from lucine_core.ports import UnitOfWorkFactory
from tests.contract.builders import T0, at, event, sample_payload
from tests.contract.conftest import AdapterOpener


async def _store(uow_factory: UnitOfWorkFactory, *events: AnalyticsEvent) -> None:
    async with uow_factory() as uow:
        await uow.events.add(list(events))
        await uow.commit()


async def _list(
    uow_factory: UnitOfWorkFactory,
    *,
    types: Sequence[EventType] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    session_id: str | None = None,
    limit: int | None = None,
) -> Sequence[AnalyticsEvent]:
    async with uow_factory() as uow:
        return await uow.events.list(
            types=types, since=since, until=until, session_id=session_id, limit=limit
        )


def _unstored(stored: AnalyticsEvent) -> AnalyticsEvent:
    return attrs.evolve(stored, id=0)


async def test_ids_are_assigned_increasing(uow_factory: UnitOfWorkFactory) -> None:
    """The store gives each event a positive id, increasing in the order they were added."""
    await _store(uow_factory, event(happened=at(1)), event(happened=at(2)))
    await _store(uow_factory, event(happened=at(3)))
    found = await _list(uow_factory)
    ids = [e.id for e in found]
    assert all(i > 0 for i in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == 3


async def test_events_round_trip(uow_factory: UnitOfWorkFactory) -> None:
    """A stored event reads back equal apart from its assigned id."""
    original = event(
        ev.ChatMessage(sender="USER", length=17, response_ms=None),
        happened=at(1) + timedelta(microseconds=999_999),
        session_id="s-1",
        operator_id="op-2",
    )
    await _store(uow_factory, original)
    (got,) = await _list(uow_factory)
    assert _unstored(got) == original
    assert got.type is EventType.CHAT_MESSAGE
    assert got.at.utcoffset() == timedelta(0)


@pytest.mark.parametrize("event_type", list(ev.PAYLOAD_TYPES), ids=str)
async def test_every_payload_type_round_trips(
    uow_factory: UnitOfWorkFactory, event_type: EventType
) -> None:
    """An event of each type reads back with an equal payload of the same class and type."""
    payload = sample_payload(ev.PAYLOAD_TYPES[event_type])
    original = event(payload, happened=at(1), session_id=None, operator_id="op-1")
    await _store(uow_factory, original)
    (got,) = await _list(uow_factory)
    assert got.type is event_type
    assert type(got.payload) is type(payload)
    assert got.payload == payload
    assert _unstored(got) == original


async def test_all_payload_types_in_one_batch(uow_factory: UnitOfWorkFactory) -> None:
    """One add of an event of every type stores all of them, in order, each with its type."""
    batch = [
        event(sample_payload(cls), happened=at(i), session_id=f"s-{i}")
        for i, cls in enumerate(ev.PAYLOAD_TYPES.values())
    ]
    await _store(uow_factory, *batch)
    found = await _list(uow_factory)
    assert [_unstored(e) for e in found] == batch
    assert [e.type for e in found] == list(ev.PAYLOAD_TYPES)


async def test_list_filters(uow_factory: UnitOfWorkFactory) -> None:
    """types, since (inclusive), until (exclusive) and session_id each narrow the result."""
    started = event(ev.SessionStarted(language="it"), happened=at(0), session_id="s-1")
    message = event(ev.ChatMessage(sender="USER", length=3), happened=at(1), session_id="s-1")
    other = event(ev.SessionStarted(language="en"), happened=at(2), session_id="s-2")
    login = event(ev.OperatorLogin(username="anna"), happened=at(3), session_id=None)
    await _store(uow_factory, started, message, other, login)

    assert [_unstored(e) for e in await _list(uow_factory)] == [started, message, other, login]
    found = await _list(uow_factory, types=[EventType.SESSION_STARTED])
    assert [_unstored(e) for e in found] == [started, other]
    found = await _list(uow_factory, types=[EventType.OPERATOR_LOGIN, EventType.CHAT_MESSAGE])
    assert [_unstored(e) for e in found] == [message, login]
    assert [_unstored(e) for e in await _list(uow_factory, since=at(1))] == [message, other, login]
    assert [_unstored(e) for e in await _list(uow_factory, until=at(2))] == [started, message]
    found = await _list(uow_factory, since=at(1), until=at(3))
    assert [_unstored(e) for e in found] == [message, other]
    assert [_unstored(e) for e in await _list(uow_factory, session_id="s-1")] == [started, message]
    found = await _list(uow_factory, session_id="s-1", types=[EventType.CHAT_MESSAGE])
    assert [_unstored(e) for e in found] == [message]
    assert await _list(uow_factory, since=at(1), until=at(1)) == []
    assert await _list(uow_factory, types=[EventType.FEEDBACK_GIVEN]) == []


async def test_list_is_oldest_first_with_limit(uow_factory: UnitOfWorkFactory) -> None:
    """Events come oldest first whatever the order they were added in; limit keeps the oldest."""
    times = [at(m) for m in (5, 1, 4, 2, 3)]
    await _store(uow_factory, *(event(happened=t) for t in times))
    everything = await _list(uow_factory)
    first_two = await _list(uow_factory, limit=2)
    after_two = await _list(uow_factory, since=at(2), limit=2)
    assert [e.at for e in everything] == sorted(times)
    assert [e.at for e in first_two] == [at(1), at(2)]
    assert [e.at for e in after_two] == [at(2), at(3)]


async def test_delete_before(uow_factory: UnitOfWorkFactory) -> None:
    """delete_before removes events strictly older than the cutoff and says how many."""
    await _store(uow_factory, *(event(happened=at(m)) for m in (0, 1, 2, 3)))
    async with uow_factory() as uow:
        assert await uow.events.delete_before(at(2)) == 2
        assert await uow.events.delete_before(at(2)) == 0
        await uow.commit()
    assert [e.at for e in await _list(uow_factory)] == [at(2), at(3)]


async def test_delete_for_session(uow_factory: UnitOfWorkFactory) -> None:
    """delete_for_session removes only that session's events and says how many."""
    await _store(
        uow_factory,
        event(happened=at(0), session_id="s-1"),
        event(happened=at(1), session_id="s-2"),
        event(happened=at(2), session_id="s-1"),
        event(ev.OperatorLogin(username="anna"), happened=at(3), session_id=None),
    )
    async with uow_factory() as uow:
        assert await uow.events.delete_for_session("s-1") == 2
        assert await uow.events.delete_for_session("s-1") == 0
        await uow.commit()
    assert [e.session_id for e in await _list(uow_factory)] == ["s-2", None]


async def test_empty_add_stores_nothing(uow_factory: UnitOfWorkFactory) -> None:
    """Adding an empty batch is allowed and stores nothing."""
    await _store(uow_factory)
    assert await _list(uow_factory, since=T0 - timedelta(days=1)) == []


_TYPES = (ev.SessionStarted(language="it"), ev.OperatorLogin(username="anna"))
_SESSIONS = ("s-1", "s-2", None)


@attrs.frozen
class _Filters:
    """Arguments of one EventStore.list call, in minutes from T0."""

    types: list[EventType] | None
    since: int | None
    until: int | None
    session_id: str | None
    limit: int | None

    def keeps(self, item: AnalyticsEvent) -> bool:
        """The model: whether ``item`` matches every filter."""
        return (
            (self.types is None or item.type in self.types)
            and (self.since is None or item.at >= at(self.since))
            and (self.until is None or item.at < at(self.until))
            and (self.session_id is None or item.session_id == self.session_id)
        )


_filters = st.builds(
    _Filters,
    types=st.none() | st.lists(st.sampled_from([event(p).type for p in _TYPES]), min_size=1),
    since=st.none() | st.integers(0, 60),
    until=st.none() | st.integers(0, 60),
    session_id=st.none() | st.sampled_from(["s-1", "s-2", "s-3"]),
    limit=st.none() | st.integers(0, 13),
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # opener is stateless
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 59), st.sampled_from(_TYPES), st.sampled_from(_SESSIONS)),
        max_size=12,
        unique_by=lambda row: row[0],
    ),
    filters=_filters,
)
async def test_list_agrees_with_a_model(
    adapter: AdapterOpener, rows: list[tuple[int, ev.Payload, str | None]], filters: _Filters
) -> None:
    """For any events and filters, list returns exactly the matching events, oldest first."""
    events = [event(payload, happened=at(m), session_id=sid) for m, payload, sid in rows]
    expected = sorted(filter(filters.keeps, events), key=lambda e: e.at)[: filters.limit]
    async with adapter() as uow_factory:
        await _store(uow_factory, *events)
        found = await _list(
            uow_factory,
            types=filters.types,
            since=None if filters.since is None else at(filters.since),
            until=None if filters.until is None else at(filters.until),
            session_id=filters.session_id,
            limit=filters.limit,
        )
    assert [_unstored(e) for e in found] == expected


async def test_model_tokens_add_up_one_sessions_answers(uow_factory: UnitOfWorkFactory) -> None:
    """Input and output tokens of the session's KB answers only; zero for none."""

    def answer(session_id: str, tokens_in: int, tokens_out: int) -> AnalyticsEvent:
        return event(
            ev.KbAnswer(
                sources=(),
                confidence=0.5,
                latency_ms=3,
                escalation_offered=False,
                input_tokens=tokens_in,
                output_tokens=tokens_out,
            ),
            session_id=session_id,
        )

    await _store(
        uow_factory,
        answer("s-1", 120, 30),
        answer("s-1", 7, 0),
        answer("s-2", 1000, 1000),
        event(ev.SessionStarted(language="it"), session_id="s-1"),
    )
    async with uow_factory(read_only=True) as uow:
        assert await uow.events.model_tokens("s-1") == 157
        assert await uow.events.model_tokens("s-3") == 0
