"""AuditStore: what every adapter of the audit trail must do."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import attrs

from lucine_core.audit import AuditEntry
from lucine_core.enums import AuditAction
from lucine_core.ports import UnitOfWorkFactory
from tests.contract.builders import at, audit_entry


async def _store(uow_factory: UnitOfWorkFactory, *entries: AuditEntry) -> None:
    async with uow_factory() as uow:
        for entry in entries:
            await uow.audit.add(entry)
        await uow.commit()


async def _list(
    uow_factory: UnitOfWorkFactory,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    actor: str | None = None,
    subject: str | None = None,
    limit: int = 200,
) -> Sequence[AuditEntry]:
    async with uow_factory() as uow:
        return await uow.audit.list(
            since=since, until=until, actor=actor, subject=subject, limit=limit
        )


def _minutes(entries: Sequence[AuditEntry]) -> list[float]:
    return [(e.at - at(0)).total_seconds() / 60 for e in entries]


async def test_entries_round_trip_with_details(uow_factory: UnitOfWorkFactory) -> None:
    """A stored entry reads back equal apart from its assigned positive id, details included."""
    original = audit_entry(
        when=at(1) + timedelta(microseconds=31),
        actor="operator:op-1",
        action=AuditAction.TRANSFER,
        subject="s-1",
        details={"to": "op-2", "from": "op-1", "reason": "lingua: tedesco — ü"},
    )
    await _store(uow_factory, original)
    (got,) = await _list(uow_factory)
    assert got.id > 0
    assert attrs.evolve(got, id=0) == original
    assert dict(got.details) == {"to": "op-2", "from": "op-1", "reason": "lingua: tedesco — ü"}
    assert got.action is AuditAction.TRANSFER
    assert got.at.utcoffset() == timedelta(0)


async def test_empty_details_and_subject_round_trip(uow_factory: UnitOfWorkFactory) -> None:
    """An entry without subject or details reads back with "" and an empty mapping."""
    await _store(uow_factory, AuditEntry(at=at(0), actor="system", action=AuditAction.PURGE))
    (got,) = await _list(uow_factory)
    assert got.subject == ""
    assert dict(got.details) == {}
    assert got.actor == "system"


async def test_ids_are_distinct(uow_factory: UnitOfWorkFactory) -> None:
    """Every stored entry gets its own id, even entries identical in every other field."""
    same = audit_entry(when=at(0))
    await _store(uow_factory, same, same)
    await _store(uow_factory, same)
    found = await _list(uow_factory)
    assert len(found) == 3
    assert len({e.id for e in found}) == 3


async def test_list_is_newest_first_with_limit(uow_factory: UnitOfWorkFactory) -> None:
    """Entries come newest first whatever the order they were added in; limit keeps the newest."""
    await _store(uow_factory, *(audit_entry(when=at(m)) for m in (3, 1, 4, 0, 2)))
    assert _minutes(await _list(uow_factory)) == [4, 3, 2, 1, 0]
    assert _minutes(await _list(uow_factory, limit=2)) == [4, 3]


async def test_list_filters(uow_factory: UnitOfWorkFactory) -> None:
    """since, until, actor and subject each narrow the result, and combine."""
    await _store(
        uow_factory,
        audit_entry(when=at(0), actor="operator:op-1", subject="s-1"),
        audit_entry(when=at(10), actor="operator:op-2", subject="s-1"),
        audit_entry(when=at(20), actor="operator:op-1", subject="t-1"),
        audit_entry(when=at(30), actor="system", subject="s-2", action=AuditAction.ERASE),
    )
    assert _minutes(await _list(uow_factory, since=at(5))) == [30, 20, 10]
    assert _minutes(await _list(uow_factory, until=at(15))) == [10, 0]
    assert _minutes(await _list(uow_factory, since=at(5), until=at(25))) == [20, 10]
    assert _minutes(await _list(uow_factory, actor="operator:op-1")) == [20, 0]
    assert _minutes(await _list(uow_factory, subject="s-1")) == [10, 0]
    assert _minutes(await _list(uow_factory, actor="operator:op-1", subject="s-1")) == [0]
    assert _minutes(await _list(uow_factory, actor="system", since=at(5), limit=1)) == [30]
    assert await _list(uow_factory, actor="operator:op-9") == []


async def test_delete_before(uow_factory: UnitOfWorkFactory) -> None:
    """delete_before removes entries strictly older than the cutoff and says how many."""
    await _store(uow_factory, *(audit_entry(when=at(m)) for m in (0, 1, 2, 3)))
    async with uow_factory() as uow:
        assert await uow.audit.delete_before(at(2)) == 2
        assert await uow.audit.delete_before(at(2)) == 0
        await uow.commit()
    assert _minutes(await _list(uow_factory)) == [3, 2]
