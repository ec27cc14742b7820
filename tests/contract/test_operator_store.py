"""OperatorStore: what every adapter of operator accounts must do."""

from __future__ import annotations

import copy
from datetime import timedelta

import attrs
import pytest

from lucine_core.enums import Availability, Role
from lucine_core.errors import ConflictError, NotFoundError
from lucine_core.operators import Operator
from lucine_core.ports import UnitOfWorkFactory
from tests.contract.builders import T0, at, operator, rich_operator


async def _store(uow_factory: UnitOfWorkFactory, *operators: Operator) -> None:
    async with uow_factory() as uow:
        for item in operators:
            await uow.operators.add(item)
        await uow.commit()


def test_rich_operator_sets_every_field() -> None:
    """The round-trip sample differs from the defaults everywhere, so it checks every column."""
    defaults = operator("x", created=T0)
    rich = rich_operator()
    for field in attrs.fields(Operator):
        if field.default is not attrs.NOTHING:
            assert getattr(rich, field.name) != getattr(defaults, field.name), field.name


async def test_add_then_get_keeps_every_field(uow_factory: UnitOfWorkFactory) -> None:
    """A stored operator reads back equal by id and by username."""
    rich = rich_operator()
    expected = copy.deepcopy(rich)
    await _store(uow_factory, rich)
    async with uow_factory() as uow:
        by_id = await uow.operators.get(rich.id)
        by_name = await uow.operators.get_by_username("giulia.rossi")
    assert by_id == expected
    assert by_name == expected
    assert by_id.role is Role.ADMIN
    assert by_id.availability is Availability.ONLINE
    assert by_id.last_assigned_at is not None
    assert by_id.last_assigned_at.utcoffset() == timedelta(0)


async def test_get_returns_a_copy(uow_factory: UnitOfWorkFactory) -> None:
    """Changing an operator that was read changes nothing stored until it is updated."""
    await _store(uow_factory, operator("op-1"))
    async with uow_factory() as uow:
        got = await uow.operators.get("op-1")
        got.availability = Availability.ONLINE
        got.token_version = 9
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.operators.get("op-1")
    assert stored.availability is Availability.OFFLINE
    assert stored.token_version == 0


async def test_update_stores_changes(uow_factory: UnitOfWorkFactory) -> None:
    """An update replaces the stored operator's fields."""
    await _store(uow_factory, operator("op-1"))
    async with uow_factory() as uow:
        got = await uow.operators.get("op-1")
        got.availability = Availability.BUSY
        got.set_capacity(5)
        got.last_assigned_at = at(12)
        got.token_version += 1
        got.display_name = "Renamed"
        await uow.operators.update(got)
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.operators.get("op-1")
    assert stored == got
    assert stored.availability is Availability.BUSY
    assert stored.capacity == 5
    assert stored.last_assigned_at == at(12)
    assert stored.token_version == 1


async def test_update_unknown_is_not_found(uow_factory: UnitOfWorkFactory) -> None:
    """Updating an operator nobody stored raises NotFoundError and stores nothing."""
    async with uow_factory() as uow:
        with pytest.raises(NotFoundError):
            await uow.operators.update(operator("ghost"))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.operators.list() == []


async def test_unknown_is_not_found(uow_factory: UnitOfWorkFactory) -> None:
    """Unknown ids and usernames raise NotFoundError."""
    await _store(uow_factory, operator("op-1", "alice"))
    async with uow_factory() as uow:
        with pytest.raises(NotFoundError):
            await uow.operators.get("op-2")
        with pytest.raises(NotFoundError):
            await uow.operators.get_by_username("bob")
        with pytest.raises(NotFoundError):
            await uow.operators.get("alice")


async def test_duplicate_username_conflicts(uow_factory: UnitOfWorkFactory) -> None:
    """A second operator with a taken username is refused, whatever its id."""
    await _store(uow_factory, operator("op-1", "alice"))
    async with uow_factory() as uow:
        with pytest.raises(ConflictError):
            await uow.operators.add(operator("op-2", "alice"))
    async with uow_factory() as uow:
        assert [o.id for o in await uow.operators.list()] == ["op-1"]


async def test_duplicate_id_conflicts(uow_factory: UnitOfWorkFactory) -> None:
    """A second operator with a taken id is refused, whatever its username."""
    await _store(uow_factory, operator("op-1", "alice"))
    async with uow_factory() as uow:
        with pytest.raises(ConflictError):
            await uow.operators.add(operator("op-1", "bob"))
    async with uow_factory() as uow:
        assert (await uow.operators.get("op-1")).username == "alice"
        with pytest.raises(NotFoundError):
            await uow.operators.get_by_username("bob")


async def test_list_is_ordered_by_username(uow_factory: UnitOfWorkFactory) -> None:
    """List returns every operator ordered by username, not by id or insertion."""
    await _store(
        uow_factory,
        operator("op-1", "mario"),
        operator("op-2", "anna"),
        operator("op-3", "zoe"),
        operator("op-4", "carla"),
    )
    async with uow_factory() as uow:
        found = await uow.operators.list()
    assert [o.username for o in found] == ["anna", "carla", "mario", "zoe"]
    assert [o.id for o in found] == ["op-2", "op-4", "op-1", "op-3"]
