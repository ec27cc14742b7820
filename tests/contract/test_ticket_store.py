"""TicketStore: what every adapter of tickets must do."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import timedelta

import attrs
import pytest

from lucine_core.enums import Sender, TicketPriority, TicketSource, TicketStatus
from lucine_core.errors import ConflictError, NotFoundError
from lucine_core.ports import UnitOfWorkFactory
from lucine_core.tickets import Contact, Ticket, TranscriptLine
from tests.contract.builders import T0, at, rich_ticket, ticket


async def _store(uow_factory: UnitOfWorkFactory, *tickets: Ticket) -> None:
    async with uow_factory() as uow:
        for item in tickets:
            await uow.tickets.add(item)
        await uow.commit()


async def _ids(
    uow_factory: UnitOfWorkFactory,
    *,
    statuses: Sequence[TicketStatus] | None = None,
    session_id: str | None = None,
    email: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[str]:
    async with uow_factory() as uow:
        found = await uow.tickets.list(
            statuses=statuses, session_id=session_id, email=email, limit=limit, offset=offset
        )
    return [t.id for t in found]


def test_rich_ticket_sets_every_field() -> None:
    """The round-trip sample differs from the defaults everywhere, so it checks every column."""
    rich = rich_ticket()
    plain = ticket("x")
    for field in attrs.fields(Ticket):
        if field.default is not attrs.NOTHING and field.name != "pending_events":
            assert getattr(rich, field.name) != getattr(plain, field.name), field.name
    assert None not in (rich.contact.name, rich.contact.email, rich.contact.phone)


async def test_add_then_get_keeps_every_field(uow_factory: UnitOfWorkFactory) -> None:
    """A stored ticket reads back equal, contact and transcript included."""
    rich = rich_ticket()
    expected = copy.deepcopy(rich)
    await _store(uow_factory, rich)
    async with uow_factory() as uow:
        got = await uow.tickets.get(rich.id)
    assert got == expected
    assert got.contact == Contact(
        name="Mario Rossi", email="mario@example.com", phone="+393331234567"
    )
    assert got.transcript == (
        TranscriptLine(sender=Sender.USER, text="Dov'è il mio ordine?", at=at(1)),
        TranscriptLine(sender=Sender.OPERATOR, text="Controllo subito.", at=at(2)),
    )
    assert got.priority is TicketPriority.URGENT
    assert got.source is TicketSource.CHAT
    assert got.status is TicketStatus.RESOLVED
    assert got.due_at.utcoffset() == timedelta(0)
    assert got.pending_events == []


async def test_get_returns_a_copy(uow_factory: UnitOfWorkFactory) -> None:
    """Changing a ticket that was read changes nothing stored until it is updated."""
    await _store(uow_factory, ticket("t-1"))
    async with uow_factory() as uow:
        got = await uow.tickets.get("t-1")
        got.move_to(TicketStatus.IN_PROGRESS, at(1))
        got.sla_alerts = frozenset({"x"})
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.tickets.get("t-1")
    assert stored.status is TicketStatus.OPEN
    assert stored.sla_alerts == frozenset()


async def test_add_of_an_existing_id_conflicts(uow_factory: UnitOfWorkFactory) -> None:
    """A second ticket with a stored id is refused and the first is kept."""
    await _store(uow_factory, ticket("t-1"))
    async with uow_factory() as uow:
        with pytest.raises(ConflictError):
            await uow.tickets.add(ticket("t-1", status=TicketStatus.CLOSED))
    async with uow_factory() as uow:
        assert (await uow.tickets.get("t-1")).status is TicketStatus.OPEN


async def test_unknown_is_not_found(uow_factory: UnitOfWorkFactory) -> None:
    """Reading or updating a ticket nobody stored raises NotFoundError."""
    async with uow_factory() as uow:
        with pytest.raises(NotFoundError):
            await uow.tickets.get("t-9")
        with pytest.raises(NotFoundError):
            await uow.tickets.update(ticket("t-9"))
        await uow.commit()
    assert await _ids(uow_factory) == []


async def test_update_stores_changes(uow_factory: UnitOfWorkFactory) -> None:
    """An update replaces status, times and owner; recorded events are not stored with it."""
    await _store(uow_factory, ticket("t-1"))
    async with uow_factory() as uow:
        got = await uow.tickets.get("t-1")
        got.operator_id = "op-3"
        got.move_to(TicketStatus.RESOLVED, at(30))
        assert got.pending_events
        await uow.tickets.update(got)
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.tickets.get("t-1")
    assert stored == got
    assert stored.status is TicketStatus.RESOLVED
    assert stored.resolved_at == at(30)
    assert stored.updated_at == at(30)
    assert stored.operator_id == "op-3"
    assert stored.pending_events == []


async def test_list_is_newest_first_and_filters(uow_factory: UnitOfWorkFactory) -> None:
    """List keeps tickets matching every filter, newest first."""
    await _store(
        uow_factory,
        ticket("t-1", created=at(1), session_id="s-1", email="a@example.com"),
        ticket("t-2", created=at(2), status=TicketStatus.IN_PROGRESS, email="b@example.com"),
        ticket("t-3", created=at(3), session_id="s-1", status=TicketStatus.CLOSED),
        ticket("t-4", created=at(4), email="a@example.com"),
    )
    assert await _ids(uow_factory) == ["t-4", "t-3", "t-2", "t-1"]
    assert await _ids(uow_factory, statuses=[TicketStatus.OPEN]) == ["t-4", "t-1"]
    assert await _ids(uow_factory, statuses=[TicketStatus.IN_PROGRESS, TicketStatus.CLOSED]) == [
        "t-3",
        "t-2",
    ]
    assert await _ids(uow_factory, session_id="s-1") == ["t-3", "t-1"]
    assert await _ids(uow_factory, email="a@example.com") == ["t-4", "t-1"]
    assert await _ids(uow_factory, email="a@example.com", session_id="s-1") == ["t-1"]
    assert await _ids(uow_factory, statuses=[TicketStatus.CLOSED], email="a@example.com") == []


async def test_list_pages_with_limit_and_offset(uow_factory: UnitOfWorkFactory) -> None:
    """Limit and offset page through the newest-first order without gaps or repeats."""
    await _store(uow_factory, *(ticket(f"t-{i}", created=at(i)) for i in range(7)))
    pages = [await _ids(uow_factory, limit=3, offset=offset) for offset in (0, 3, 6, 9)]
    assert pages == [["t-6", "t-5", "t-4"], ["t-3", "t-2", "t-1"], ["t-0"], []]


async def test_delete_is_idempotent(uow_factory: UnitOfWorkFactory) -> None:
    """Deleting removes the ticket; deleting again or an unknown id does not raise."""
    await _store(uow_factory, ticket("t-1"), ticket("t-2", created=T0 + timedelta(seconds=1)))
    async with uow_factory() as uow:
        await uow.tickets.delete("t-1")
        await uow.tickets.delete("t-1")
        await uow.tickets.delete("never-was")
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(NotFoundError):
            await uow.tickets.get("t-1")
    assert await _ids(uow_factory) == ["t-2"]
