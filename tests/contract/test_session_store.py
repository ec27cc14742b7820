"""SessionStore: what every adapter of chat sessions must do."""

from __future__ import annotations

import copy
from datetime import timedelta

import attrs
import pytest

from lucine_core.actors import Actor
from lucine_core.enums import SessionStatus
from lucine_core.errors import ConcurrencyError, ConflictError, NotFoundError
from lucine_core.escalation import EscalationState
from lucine_core.ports import UnitOfWorkFactory
from lucine_core.session import ChatSession, StatusChange
from tests.contract.builders import T0, at, rich_session, session, session_in


async def _store(uow_factory: UnitOfWorkFactory, *sessions: ChatSession) -> None:
    async with uow_factory() as uow:
        for chat in sessions:
            await uow.sessions.add(chat)
        await uow.commit()


async def _get(uow_factory: UnitOfWorkFactory, session_id: str) -> ChatSession:
    async with uow_factory() as uow:
        return await uow.sessions.get(session_id)


def test_rich_session_sets_every_field() -> None:
    """The round-trip sample differs from the defaults everywhere, so it checks every column."""
    chat = rich_session()
    defaults = ChatSession(
        id="x",
        status=SessionStatus.ACTIVE,
        language=chat.language,
        created_at=T0,
        last_activity_at=T0,
        status_changed_at=T0,
    )
    for field in attrs.fields(ChatSession):
        if field.default is not attrs.NOTHING and field.name not in {"version", "pending_events"}:
            assert getattr(chat, field.name) != getattr(defaults, field.name), field.name
    assert len(chat.history) >= 3


async def test_add_then_get_keeps_every_field(uow_factory: UnitOfWorkFactory) -> None:
    """A stored session reads back equal in every field, history included, at version 1."""
    chat = rich_session()
    expected = attrs.evolve(copy.deepcopy(chat), version=1)
    await _store(uow_factory, chat)
    got = await _get(uow_factory, chat.id)
    assert got == expected
    assert got.history == expected.history
    assert all(isinstance(change, StatusChange) for change in got.history)
    assert got.escalation == EscalationState(consecutive_failures=2, suppress_next_offer=True)
    assert got.sla_alerts == frozenset({"first_response:warning", "queue_wait:breached"})
    assert got.language is expected.language
    assert got.status is expected.status
    assert got.operator_replied_at is not None
    assert got.operator_replied_at.utcoffset() == timedelta(0)
    assert got.operator_replied_at.microsecond == 123_456


async def test_pending_events_are_never_persisted(uow_factory: UnitOfWorkFactory) -> None:
    """Events recorded on a session are the caller's to store; a read session has none."""
    chat = session("s-1")
    assert chat.pending_events
    await _store(uow_factory, chat)
    got = await _get(uow_factory, "s-1")
    assert got.pending_events == []
    got.take("op-1", at(1), assignment="manual", queued_at=None)
    assert got.pending_events
    async with uow_factory() as uow:
        await uow.sessions.update(got)
        await uow.commit()
    assert (await _get(uow_factory, "s-1")).pending_events == []


async def test_get_returns_a_copy(uow_factory: UnitOfWorkFactory) -> None:
    """Changing a session that was read changes nothing stored until it is updated."""
    await _store(uow_factory, session_in(SessionStatus.WITH_OPERATOR, "s-1"))
    async with uow_factory() as uow:
        got = await uow.sessions.get("s-1")
        got.status = SessionStatus.CANCELLED
        got.history.append(got.history[-1])
        got.sla_alerts = frozenset({"changed"})
        again = await uow.sessions.get("s-1")
        await uow.commit()
    assert again.status is SessionStatus.WITH_OPERATOR
    assert len(again.history) == 1
    stored = await _get(uow_factory, "s-1")
    assert stored.status is SessionStatus.WITH_OPERATOR
    assert len(stored.history) == 1
    assert stored.sla_alerts == frozenset()


async def test_add_of_an_existing_id_conflicts(uow_factory: UnitOfWorkFactory) -> None:
    """A second session with a stored id is refused and the first is kept."""
    await _store(uow_factory, session("s-1"))
    async with uow_factory() as uow:
        with pytest.raises(ConflictError):
            await uow.sessions.add(session_in(SessionStatus.IDLE, "s-1"))
    assert (await _get(uow_factory, "s-1")).status is SessionStatus.ACTIVE


def opened_by(session_id: str, client_message_id: str | None) -> ChatSession:
    """A new session whose first message had client message id ``client_message_id``."""
    return attrs.evolve(session(session_id), opening_client_message_id=client_message_id)


async def test_find_opened_by_finds_the_chat_a_client_id_opened(
    uow_factory: UnitOfWorkFactory,
) -> None:
    """The session opened by a client id is found by that exact id, equal in every field."""
    await _store(uow_factory, opened_by("s-1", "open-1"), opened_by("s-2", "open-2"))
    await _store(uow_factory, opened_by("s-3", None), opened_by("s-4", None))
    async with uow_factory() as uow:
        found = await uow.sessions.find_opened_by("open-2")
        assert await uow.sessions.find_opened_by("OPEN-2") is None
        assert await uow.sessions.find_opened_by("open-3") is None
    assert found == attrs.evolve(opened_by("s-2", "open-2"), version=1)


async def test_a_client_id_opens_one_chat(uow_factory: UnitOfWorkFactory) -> None:
    """A second session opened by a stored client id is a ConcurrencyError; the first stays."""
    await _store(uow_factory, opened_by("s-1", "open-1"))
    async with uow_factory() as uow:
        with pytest.raises(ConcurrencyError):
            await uow.sessions.add(opened_by("s-2", "open-1"))
    async with uow_factory() as uow:
        assert [s.id for s in await uow.sessions.list()] == ["s-1"]
        found = await uow.sessions.find_opened_by("open-1")
    assert found is not None
    assert found.id == "s-1"


async def test_get_unknown_is_not_found(uow_factory: UnitOfWorkFactory) -> None:
    """Reading a session nobody stored raises NotFoundError."""
    async with uow_factory() as uow:
        with pytest.raises(NotFoundError):
            await uow.sessions.get("nope")


async def test_update_unknown_is_not_found(uow_factory: UnitOfWorkFactory) -> None:
    """Updating a session nobody stored raises NotFoundError and stores nothing."""
    async with uow_factory() as uow:
        with pytest.raises(NotFoundError):
            await uow.sessions.update(attrs.evolve(session("ghost"), version=1))
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(NotFoundError):
            await uow.sessions.get("ghost")


async def test_update_stores_changes_and_bumps_version(uow_factory: UnitOfWorkFactory) -> None:
    """An update stores the new state and history and bumps the version by one."""
    await _store(uow_factory, session("s-1"))
    async with uow_factory() as uow:
        chat = await uow.sessions.get("s-1")
        assert chat.version == 1
        chat.take("op-2", at(3), assignment="manual", queued_at=None)
        await uow.sessions.update(chat)
        await uow.commit()
    got = await _get(uow_factory, "s-1")
    assert got.version == 2
    assert got.status is SessionStatus.WITH_OPERATOR
    assert got.operator_id == "op-2"
    assert got.assigned_at == at(3)
    assert [(c.from_status, c.to_status) for c in got.history] == [
        (SessionStatus.ACTIVE, SessionStatus.WITH_OPERATOR)
    ]


async def test_updated_session_can_be_updated_again(uow_factory: UnitOfWorkFactory) -> None:
    """The updated object carries the new version, so the same holder may update it again."""
    await _store(uow_factory, session("s-1"))
    async with uow_factory() as uow:
        chat = await uow.sessions.get("s-1")
        chat.take("op-2", at(3), assignment="manual", queued_at=None)
        await uow.sessions.update(chat)
        chat.operator_writes("op-2", at(4))
        await uow.sessions.update(chat)
        await uow.commit()
    got = await _get(uow_factory, "s-1")
    assert got.version == 3
    assert got.operator_replied_at == at(4)


async def test_stale_update_is_refused(uow_factory: UnitOfWorkFactory) -> None:
    """Of two copies read at the same version, the second update raises ConcurrencyError."""
    await _store(uow_factory, session("s-1"))
    first = await _get(uow_factory, "s-1")
    second = await _get(uow_factory, "s-1")
    first.take("op-1", at(1), assignment="manual", queued_at=None)
    second.take("op-2", at(2), assignment="manual", queued_at=None)
    async with uow_factory() as uow:
        await uow.sessions.update(first)
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(ConcurrencyError):
            await uow.sessions.update(second)
        await uow.commit()
    got = await _get(uow_factory, "s-1")
    assert got.operator_id == "op-1"
    assert got.version == 2


async def test_list_filters_orders_and_limits(uow_factory: UnitOfWorkFactory) -> None:
    """List keeps the given states and operator, most recently active first, at most limit."""
    await _store(
        uow_factory,
        session_in(SessionStatus.ACTIVE, "a", last_activity=at(10)),
        session_in(SessionStatus.WITH_OPERATOR, "b", operator_id="op-1", last_activity=at(30)),
        session_in(SessionStatus.WAITING_CLIENT, "c", operator_id="op-2", last_activity=at(20)),
        session_in(SessionStatus.WITH_OPERATOR, "d", operator_id="op-2", last_activity=at(40)),
        session_in(SessionStatus.IDLE, "e", last_activity=at(5)),
    )
    async with uow_factory() as uow:
        everything = await uow.sessions.list()
        held = await uow.sessions.list(
            statuses=[SessionStatus.WITH_OPERATOR, SessionStatus.WAITING_CLIENT]
        )
        of_op2 = await uow.sessions.list(operator_id="op-2")
        both = await uow.sessions.list(statuses=[SessionStatus.WITH_OPERATOR], operator_id="op-2")
        top2 = await uow.sessions.list(limit=2)
        none = await uow.sessions.list(statuses=[SessionStatus.ENDED])
        picked = await uow.sessions.list(ids=["e", "b", "nope"])
        picked_held = await uow.sessions.list(
            ids=["a", "b"], statuses=[SessionStatus.WITH_OPERATOR]
        )
        no_ids = await uow.sessions.list(ids=[])
    assert [s.id for s in everything] == ["d", "b", "c", "a", "e"]
    assert [s.id for s in held] == ["d", "b", "c"]
    assert [s.id for s in of_op2] == ["d", "c"]
    assert [s.id for s in both] == ["d"]
    assert [s.id for s in top2] == ["d", "b"]
    assert none == []
    assert [s.id for s in picked] == ["b", "e"]
    assert picked[0] == (await _get(uow_factory, "b"))
    assert [s.id for s in picked_held] == ["b"]
    assert no_ids == []


async def test_list_inactive_since(uow_factory: UnitOfWorkFactory) -> None:
    """Sessions not ENDED, last active at or before the cutoff, oldest first, at most limit."""
    await _store(
        uow_factory,
        session_in(SessionStatus.ACTIVE, "old", last_activity=at(1)),
        session_in(SessionStatus.WITH_OPERATOR, "older", last_activity=at(0)),
        session_in(SessionStatus.IDLE, "edge", last_activity=at(10)),
        session_in(SessionStatus.ACTIVE, "fresh", last_activity=at(11)),
        session_in(SessionStatus.ENDED, "ended", last_activity=at(0)),
    )
    async with uow_factory() as uow:
        found = await uow.sessions.list_inactive_since(at(10), limit=10)
        limited = await uow.sessions.list_inactive_since(at(10), limit=2)
    assert [s.id for s in found] == ["older", "old", "edge"]
    assert [s.id for s in limited] == ["older", "old"]
    assert found[0].status is SessionStatus.WITH_OPERATOR


async def test_list_created_before(uow_factory: UnitOfWorkFactory) -> None:
    """Ids of sessions whose last activity is strictly before the cutoff, any state."""
    await _store(
        uow_factory,
        session_in(SessionStatus.ENDED, "ended-long-ago", last_activity=at(1)),
        session_in(SessionStatus.ACTIVE, "quiet", last_activity=at(2)),
        session_in(SessionStatus.ACTIVE, "edge", last_activity=at(5)),
        session_in(SessionStatus.ACTIVE, "old-but-busy", started=at(0), last_activity=at(9)),
    )
    async with uow_factory() as uow:
        found = await uow.sessions.list_created_before(at(5), limit=10)
        limited = await uow.sessions.list_created_before(at(5), limit=1)
    assert sorted(found) == ["ended-long-ago", "quiet"]
    assert len(limited) == 1
    assert limited[0] in {"ended-long-ago", "quiet"}


async def test_count_by_status(uow_factory: UnitOfWorkFactory) -> None:
    """count_by_status counts each present state; absent states are absent or zero."""
    async with uow_factory() as uow:
        assert {k: v for k, v in (await uow.sessions.count_by_status()).items() if v} == {}
    await _store(
        uow_factory,
        session_in(SessionStatus.ACTIVE, "a1"),
        session_in(SessionStatus.ACTIVE, "a2"),
        session_in(SessionStatus.WITH_OPERATOR, "w1"),
        session_in(SessionStatus.ENDED, "e1"),
    )
    async with uow_factory() as uow:
        counts = await uow.sessions.count_by_status()
    assert {k: v for k, v in counts.items() if v} == {
        SessionStatus.ACTIVE: 2,
        SessionStatus.WITH_OPERATOR: 1,
        SessionStatus.ENDED: 1,
    }


async def test_loads_count_only_held_chats(uow_factory: UnitOfWorkFactory) -> None:
    """An operator's load counts WITH_OPERATOR and WAITING_CLIENT chats, nothing else."""
    await _store(
        uow_factory,
        session_in(SessionStatus.WITH_OPERATOR, "h1", operator_id="op-1"),
        session_in(SessionStatus.WAITING_CLIENT, "h2", operator_id="op-1"),
        session_in(SessionStatus.WITH_OPERATOR, "h3", operator_id="op-2"),
        session_in(SessionStatus.RESOLVED, "closed", operator_id="op-2"),
        session_in(SessionStatus.CANCELLED, "cancelled", operator_id="op-3"),
        session_in(SessionStatus.ACTIVE, "bot"),
    )
    async with uow_factory() as uow:
        loads = await uow.sessions.loads()
    assert {k: v for k, v in loads.items() if v} == {"op-1": 2, "op-2": 1}


async def test_loads_follow_hand_back(uow_factory: UnitOfWorkFactory) -> None:
    """A chat handed back to the assistant no longer counts towards the operator's load."""
    await _store(uow_factory, session_in(SessionStatus.WITH_OPERATOR, "h1", operator_id="op-1"))
    async with uow_factory() as uow:
        chat = await uow.sessions.get("h1")
        chat.hand_back(actor=Actor.operator("op-1"), at=at(1))
        await uow.sessions.update(chat)
        await uow.commit()
    async with uow_factory() as uow:
        assert (await uow.sessions.loads()).get("op-1", 0) == 0


async def test_delete_is_idempotent(uow_factory: UnitOfWorkFactory) -> None:
    """Deleting removes the session and deleting again (or an unknown id) does not raise."""
    await _store(uow_factory, session("s-1"), session("s-2"))
    async with uow_factory() as uow:
        await uow.sessions.delete("s-1")
        await uow.sessions.delete("s-1")
        await uow.sessions.delete("never-was")
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(NotFoundError):
            await uow.sessions.get("s-1")
        assert [s.id for s in await uow.sessions.list()] == ["s-2"]


async def test_a_session_read_without_its_history_keeps_it_when_updated(
    uow_factory: UnitOfWorkFactory,
) -> None:
    """history=False skips the earlier changes; an update appends the new ones after them."""
    chat = session_in(SessionStatus.WITH_OPERATOR, "s-1")
    chat.operator_writes("op-1", at(2))
    chat.mark_inactive(at(3), inactivity_minutes=1)
    earlier = list(chat.history)
    assert len(earlier) >= 2
    await _store(uow_factory, chat)
    full = await _get(uow_factory, "s-1")
    async with uow_factory() as uow:
        light = await uow.sessions.get("s-1", for_update=True, history=False)
        assert light.history == []
        assert attrs.evolve(light, history=earlier) == full
        light.close(SessionStatus.RESOLVED, actor=Actor.operator("op-1"), at=at(9), reason="ok")
        await uow.sessions.update(light)
        await uow.commit()
    got = await _get(uow_factory, "s-1")
    assert got.history[: len(earlier)] == earlier
    assert [(c.from_status, c.to_status) for c in got.history[len(earlier) :]] == [
        (full.status, SessionStatus.RESOLVED)
    ]
    assert got.version == full.version + 1
