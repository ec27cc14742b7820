"""QueueStore: what every adapter of the waiting queue must do."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lucine_core.enums import QueueStatus
from lucine_core.errors import ConcurrencyError, ConflictError
from lucine_core.ports import UnitOfWorkFactory
from lucine_core.queue import QueueEntry
from tests.contract.builders import T0, at, queue_entry
from tests.contract.conftest import AdapterOpener


async def _store(uow_factory: UnitOfWorkFactory, *entries: QueueEntry) -> None:
    async with uow_factory() as uow:
        for entry in entries:
            await uow.queue.add(entry)
        await uow.commit()


async def test_add_then_waiting_for(uow_factory: UnitOfWorkFactory) -> None:
    """A stored entry is the session's WAITING entry, equal in every field."""
    entry = queue_entry("q-1", "s-1", requested=at(3) + timedelta(microseconds=5), priority=2)
    await _store(uow_factory, entry)
    async with uow_factory() as uow:
        got = await uow.queue.waiting_for("s-1")
        other = await uow.queue.waiting_for("s-2")
    assert got == queue_entry("q-1", "s-1", requested=at(3) + timedelta(microseconds=5), priority=2)
    assert got is not None
    assert got.status is QueueStatus.WAITING
    assert got.requested_at.utcoffset() == timedelta(0)
    assert other is None


async def test_one_waiting_entry_per_session(uow_factory: UnitOfWorkFactory) -> None:
    """A session's second WAITING entry is refused; the first stays."""
    await _store(uow_factory, queue_entry("q-1", "s-1"))
    async with uow_factory() as uow:
        with pytest.raises(ConflictError):
            await uow.queue.add(queue_entry("q-2", "s-1", requested=at(1)))
    async with uow_factory() as uow:
        assert [e.id for e in await uow.queue.list_waiting()] == ["q-1"]


async def test_new_entry_allowed_once_resolved(uow_factory: UnitOfWorkFactory) -> None:
    """After its entry was claimed or cancelled, a session may queue again."""
    await _store(uow_factory, queue_entry("q-1", "s-1"), queue_entry("q-2", "s-2"))
    async with uow_factory() as uow:
        assert await uow.queue.claim("s-1", "op-1", at(1)) is not None
        assert await uow.queue.cancel("s-2", at(1), "visitor left") is not None
        await uow.commit()
    await _store(
        uow_factory,
        queue_entry("q-3", "s-1", requested=at(2)),
        queue_entry("q-4", "s-2", requested=at(2)),
    )
    async with uow_factory() as uow:
        assert [e.id for e in await uow.queue.list_waiting()] == ["q-3", "q-4"]


async def test_list_waiting_order(uow_factory: UnitOfWorkFactory) -> None:
    """Waiting entries come by priority (highest first), then request time, then id."""
    await _store(
        uow_factory,
        queue_entry("q-late", "s-1", requested=at(5)),
        queue_entry("q-vip", "s-2", requested=at(9), priority=5),
        queue_entry("q-early", "s-3", requested=at(1)),
        queue_entry("q-b", "s-4", requested=at(3)),
        queue_entry("q-a", "s-5", requested=at(3)),
        queue_entry("q-low", "s-6", requested=at(0), priority=-1),
        queue_entry("q-taken", "s-7", requested=at(0), priority=9),
    )
    async with uow_factory() as uow:
        await uow.queue.claim("s-7", "op-1", at(10))
        await uow.commit()
    async with uow_factory() as uow:
        found = await uow.queue.list_waiting()
    assert [e.id for e in found] == ["q-vip", "q-early", "q-a", "q-b", "q-late", "q-low"]
    assert all(e.status is QueueStatus.WAITING for e in found)


async def test_claim_exactly_once(uow_factory: UnitOfWorkFactory) -> None:
    """The first claim assigns the entry; a second claim of the session returns None."""
    await _store(uow_factory, queue_entry("q-1", "s-1", requested=at(0)))
    async with uow_factory() as uow:
        claimed = await uow.queue.claim("s-1", "op-1", at(2))
        again = await uow.queue.claim("s-1", "op-2", at(3))
        await uow.commit()
    assert claimed is not None
    assert claimed.id == "q-1"
    assert claimed.status is QueueStatus.ASSIGNED
    assert claimed.operator_id == "op-1"
    assert claimed.resolved_at == at(2)
    assert again is None
    async with uow_factory() as uow:
        assert await uow.queue.claim("s-1", "op-3", at(4)) is None
        assert await uow.queue.waiting_for("s-1") is None
        assert await uow.queue.list_waiting() == []
        assert await uow.queue.recent_waits(T0) == [timedelta(minutes=2)]


async def test_claim_never_queued_returns_none(uow_factory: UnitOfWorkFactory) -> None:
    """Claiming a session that never queued returns None."""
    async with uow_factory() as uow:
        assert await uow.queue.claim("s-1", "op-1", at(1)) is None


async def test_cancel(uow_factory: UnitOfWorkFactory) -> None:
    """Cancel resolves the WAITING entry with its reason; cancelling again returns None."""
    await _store(uow_factory, queue_entry("q-1", "s-1"), queue_entry("q-2", "s-2"))
    async with uow_factory() as uow:
        cancelled = await uow.queue.cancel("s-1", at(4), "visitor left")
        again = await uow.queue.cancel("s-1", at(5), "twice")
        never = await uow.queue.cancel("s-9", at(5), "never queued")
        await uow.commit()
    assert cancelled is not None
    assert cancelled.id == "q-1"
    assert cancelled.status is QueueStatus.CANCELLED
    assert cancelled.resolved_at == at(4)
    assert cancelled.reason == "visitor left"
    assert again is None
    assert never is None
    async with uow_factory() as uow:
        assert await uow.queue.waiting_for("s-1") is None
        assert [e.id for e in await uow.queue.list_waiting()] == ["q-2"]


async def test_claim_after_cancel_returns_none(uow_factory: UnitOfWorkFactory) -> None:
    """A cancelled request cannot be claimed, and a cancelled wait is not a recent wait."""
    await _store(uow_factory, queue_entry("q-1", "s-1"))
    async with uow_factory() as uow:
        await uow.queue.cancel("s-1", at(1), "handed back")
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.queue.claim("s-1", "op-1", at(2)) is None
        assert await uow.queue.recent_waits(T0) == []


async def test_cancel_after_claim_returns_none(uow_factory: UnitOfWorkFactory) -> None:
    """A claimed request cannot be cancelled: it stays assigned."""
    await _store(uow_factory, queue_entry("q-1", "s-1"))
    async with uow_factory() as uow:
        await uow.queue.claim("s-1", "op-1", at(1))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.queue.cancel("s-1", at(2), "too late") is None
        assert await uow.queue.recent_waits(T0) == [timedelta(minutes=1)]


async def test_recent_waits(uow_factory: UnitOfWorkFactory) -> None:
    """recent_waits lists how long entries assigned at or after ``since`` waited."""
    await _store(
        uow_factory,
        queue_entry("q-1", "s-1", requested=at(0)),
        queue_entry("q-2", "s-2", requested=at(1)),
        queue_entry("q-3", "s-3", requested=at(2)),
        queue_entry("q-4", "s-4", requested=at(3)),
    )
    async with uow_factory() as uow:
        await uow.queue.claim("s-1", "op-1", at(5))
        await uow.queue.claim("s-2", "op-1", at(10))
        await uow.queue.claim("s-3", "op-2", at(12))
        await uow.queue.cancel("s-4", at(12), "visitor left")
        await uow.commit()
    async with uow_factory() as uow:
        since_ten = await uow.queue.recent_waits(at(10))
        everything = await uow.queue.recent_waits(T0)
        future = await uow.queue.recent_waits(at(13))
    assert sorted(since_ten) == [timedelta(minutes=9), timedelta(minutes=10)]
    assert sorted(everything) == [timedelta(minutes=m) for m in (5, 9, 10)]
    assert future == []


async def test_delete_for_session(uow_factory: UnitOfWorkFactory) -> None:
    """delete_for_session removes every entry of the session, resolved or not, and counts them."""
    await _store(uow_factory, queue_entry("q-1", "s-1"), queue_entry("q-2", "s-2"))
    async with uow_factory() as uow:
        await uow.queue.claim("s-1", "op-1", at(1))
        await uow.commit()
    await _store(uow_factory, queue_entry("q-3", "s-1", requested=at(2)))
    async with uow_factory() as uow:
        assert await uow.queue.delete_for_session("s-1") == 2
        assert await uow.queue.delete_for_session("s-1") == 0
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.queue.waiting_for("s-1") is None
        assert await uow.queue.recent_waits(T0) == []
        assert [e.id for e in await uow.queue.list_waiting()] == ["q-2"]


async def test_concurrent_claims_give_the_entry_once(uow_factory: UnitOfWorkFactory) -> None:
    """Of 20 concurrent units of work claiming one session's entry, exactly one gets it."""
    await _store(uow_factory, queue_entry("q-1", "s-1", requested=at(0)))

    async def claim(operator_id: str) -> QueueEntry | None:
        try:
            async with uow_factory() as uow:
                got = await uow.queue.claim("s-1", operator_id, at(1))
                await uow.commit()
        except ConcurrencyError:
            # A losing writer may learn it lost at commit instead; then nothing was written.
            return None
        return got

    results = await asyncio.gather(*(claim(f"op-{i}") for i in range(20)))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    assert winners[0].id == "q-1"
    assert winners[0].status is QueueStatus.ASSIGNED
    async with uow_factory() as uow:
        assert await uow.queue.waiting_for("s-1") is None
        assert await uow.queue.recent_waits(T0) == [timedelta(minutes=1)]


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # opener is stateless
@given(
    rows=st.lists(
        st.tuples(st.integers(-2, 2), st.integers(0, 5), st.booleans()),
        max_size=10,
    )
)
async def test_list_waiting_agrees_with_queue_order(
    adapter: AdapterOpener, rows: list[tuple[int, int, bool]]
) -> None:
    """For any entries, list_waiting is the unclaimed ones by priority, request time, then id."""
    entries = [
        queue_entry(f"q-{i:02d}", f"s-{i}", requested=at(minute), priority=priority)
        for i, (priority, minute, _) in enumerate(rows)
    ]
    claimed = {f"s-{i}" for i, (_, _, claim) in enumerate(rows) if claim}
    async with adapter() as uow_factory:
        await _store(uow_factory, *entries)
        async with uow_factory() as uow:
            for session_id in sorted(claimed):
                assert await uow.queue.claim(session_id, "op-1", at(9)) is not None
            await uow.commit()
        async with uow_factory() as uow:
            found = await uow.queue.list_waiting()
    expected = sorted(
        (e for e in entries if e.session_id not in claimed),
        key=lambda e: (-e.priority, e.requested_at, e.id),
    )
    assert [e.id for e in found] == [e.id for e in expected]
