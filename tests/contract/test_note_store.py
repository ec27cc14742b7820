"""NoteStore: what every adapter of operators' internal notes must do."""

from __future__ import annotations

from datetime import timedelta

import attrs

from lucine_core.ports import UnitOfWorkFactory
from lucine_core.tickets import InternalNote
from tests.contract.builders import at, note


async def _store(uow_factory: UnitOfWorkFactory, *notes: InternalNote) -> None:
    async with uow_factory() as uow:
        for item in notes:
            await uow.notes.add(item)
        await uow.commit()


async def test_add_then_list_keeps_every_field(uow_factory: UnitOfWorkFactory) -> None:
    """A stored note reads back equal, text kept verbatim and time aware UTC."""
    written = at(3) + timedelta(microseconds=42)
    item = attrs.evolve(
        note("n-1", "s-1", written=written, operator_id="op-7"),
        text="Cliente nervoso: <b>rimborso</b> già chiesto 2 volte 😟\nsecond line",
    )
    await _store(uow_factory, item)
    async with uow_factory() as uow:
        found = await uow.notes.list("s-1")
    assert found == [item]
    assert found[0].at.utcoffset() == timedelta(0)


async def test_list_is_oldest_first_and_per_session(uow_factory: UnitOfWorkFactory) -> None:
    """A session's notes come oldest first and never include another session's notes."""
    await _store(
        uow_factory,
        note("n-3", "s-1", written=at(30)),
        note("n-1", "s-1", written=at(10)),
        note("n-x", "s-2", written=at(15)),
        note("n-2", "s-1", written=at(20)),
    )
    async with uow_factory() as uow:
        first = await uow.notes.list("s-1")
        second = await uow.notes.list("s-2")
        none = await uow.notes.list("s-3")
    assert [n.id for n in first] == ["n-1", "n-2", "n-3"]
    assert [n.id for n in second] == ["n-x"]
    assert none == []


async def test_delete_for_session_counts_and_isolates(uow_factory: UnitOfWorkFactory) -> None:
    """delete_for_session removes only that session's notes and says how many."""
    await _store(
        uow_factory,
        note("n-1", "s-1", written=at(1)),
        note("n-2", "s-1", written=at(2)),
        note("n-3", "s-2", written=at(3)),
    )
    async with uow_factory() as uow:
        assert await uow.notes.delete_for_session("s-1") == 2
        assert await uow.notes.delete_for_session("s-1") == 0
        assert await uow.notes.delete_for_session("never-was") == 0
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.notes.list("s-1") == []
        assert [n.id for n in await uow.notes.list("s-2")] == ["n-3"]
