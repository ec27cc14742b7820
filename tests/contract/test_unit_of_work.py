"""UnitOfWork: every store's writes are committed together or not at all."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from lucine_adapters.sql.database import SqlDatabase, SqlUnitOfWork
from lucine_core.enums import Language, SessionStatus
from lucine_core.errors import ExternalServiceError, NotFoundError
from lucine_core.ports import UnitOfWork, UnitOfWorkFactory
from tests.contract.builders import (
    T0,
    at,
    audit_entry,
    event,
    message,
    note,
    operator,
    queue_entry,
    session,
    ticket,
)
from tests.contract.conftest import opener_for
from tests.databases import open_postgres, plain_url


class _AbandonError(Exception):
    """Raised inside a unit of work to abandon it."""


async def _write_everything(uow: UnitOfWork) -> None:
    """One write to every store."""
    await uow.sessions.add(session("s-1"))
    await uow.messages.add(message("s-1", 1))
    await uow.operators.add(operator("op-1", "anna"))
    await uow.queue.add(queue_entry("q-1", "s-1"))
    await uow.tickets.add(ticket("t-1", session_id="s-1"))
    await uow.notes.add(note("n-1", "s-1"))
    await uow.events.add([event(session_id="s-1")])
    await uow.audit.add(audit_entry(subject="s-1"))


async def _assert_nothing_stored(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        with pytest.raises(NotFoundError):
            await uow.sessions.get("s-1")
        with pytest.raises(NotFoundError):
            await uow.tickets.get("t-1")
        assert await uow.sessions.list() == []
        assert await uow.messages.list("s-1") == []
        assert await uow.operators.list() == []
        assert await uow.queue.list_waiting() == []
        assert await uow.notes.list("s-1") == []
        assert await uow.events.list() == []
        assert await uow.audit.list() == []


async def _assert_everything_stored(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        assert (await uow.sessions.get("s-1")).status is SessionStatus.ACTIVE
        assert [m.seq for m in await uow.messages.list("s-1")] == [1]
        assert [o.id for o in await uow.operators.list()] == ["op-1"]
        assert [e.id for e in await uow.queue.list_waiting()] == ["q-1"]
        assert (await uow.tickets.get("t-1")).session_id == "s-1"
        assert [n.id for n in await uow.notes.list("s-1")] == ["n-1"]
        assert [e.session_id for e in await uow.events.list()] == ["s-1"]
        assert [e.subject for e in await uow.audit.list()] == ["s-1"]


async def test_leaving_without_commit_rolls_back_every_store(
    uow_factory: UnitOfWorkFactory,
) -> None:
    """Writes to every store in a unit left without commit are invisible to the next unit."""
    async with uow_factory() as uow:
        await _write_everything(uow)
    await _assert_nothing_stored(uow_factory)


async def test_an_exception_rolls_back_and_propagates(uow_factory: UnitOfWorkFactory) -> None:
    """An exception raised inside the block rolls every write back and reaches the caller."""

    async def write_then_fail() -> None:
        async with uow_factory() as uow:
            await _write_everything(uow)
            raise _AbandonError

    with pytest.raises(_AbandonError):
        await write_then_fail()
    await _assert_nothing_stored(uow_factory)


async def test_explicit_rollback_discards_writes(uow_factory: UnitOfWorkFactory) -> None:
    """Rollback discards every write of the unit."""
    async with uow_factory() as uow:
        await _write_everything(uow)
        await uow.rollback()
    await _assert_nothing_stored(uow_factory)


async def test_commit_makes_every_write_visible(uow_factory: UnitOfWorkFactory) -> None:
    """After commit, every store's writes are visible to a new unit."""
    async with uow_factory() as uow:
        await _write_everything(uow)
        await uow.commit()
    await _assert_everything_stored(uow_factory)


async def test_committed_writes_survive_a_later_rolled_back_unit(
    uow_factory: UnitOfWorkFactory,
) -> None:
    """Deletes in a unit that is not committed leave the committed data in place."""
    async with uow_factory() as uow:
        await _write_everything(uow)
        await uow.commit()
    async with uow_factory() as uow:
        await uow.sessions.delete("s-1")
        await uow.messages.delete_for_session("s-1")
        await uow.queue.delete_for_session("s-1")
        await uow.tickets.delete("t-1")
        await uow.notes.delete_for_session("s-1")
        await uow.events.delete_for_session("s-1")
        await uow.audit.delete_before(at(60))
    await _assert_everything_stored(uow_factory)


async def test_rolled_back_update_leaves_previous_version(uow_factory: UnitOfWorkFactory) -> None:
    """A session updated in a unit that is not committed reads back as before, same version."""
    async with uow_factory() as uow:
        await uow.sessions.add(session("s-1"))
        await uow.commit()
    async with uow_factory() as uow:
        chat = await uow.sessions.get("s-1")
        chat.take("op-1", at(1), assignment="manual", queued_at=None)
        await uow.sessions.update(chat)
        assert (await uow.sessions.get("s-1")).status is SessionStatus.WITH_OPERATOR
    async with uow_factory() as uow:
        stored = await uow.sessions.get("s-1")
        assert stored.status is SessionStatus.ACTIVE
        assert stored.operator_id is None
        assert stored.version == 1
        stored.take("op-2", at(2), assignment="manual", queued_at=None)
        await uow.sessions.update(stored)
        await uow.commit()
    async with uow_factory() as uow:
        final = await uow.sessions.get("s-1")
    assert final.operator_id == "op-2"
    assert final.version == 2


async def test_rolled_back_claim_leaves_entry_waiting(uow_factory: UnitOfWorkFactory) -> None:
    """A claim in a unit that is not committed leaves the entry WAITING for the next claim."""
    async with uow_factory() as uow:
        await uow.queue.add(queue_entry("q-1", "s-1", requested=T0))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.queue.claim("s-1", "op-1", at(1)) is not None
    async with uow_factory() as uow:
        assert await uow.queue.waiting_for("s-1") is not None
        claimed = await uow.queue.claim("s-1", "op-2", at(2))
        await uow.commit()
    assert claimed is not None
    assert claimed.operator_id == "op-2"


async def test_writes_are_visible_inside_their_unit(uow_factory: UnitOfWorkFactory) -> None:
    """Reads in a unit see that unit's own uncommitted writes."""
    async with uow_factory() as uow:
        await _write_everything(uow)
        assert (await uow.sessions.get("s-1")).id == "s-1"
        assert [m.seq for m in await uow.messages.list("s-1")] == [1]
        assert (await uow.operators.get_by_username("anna")).id == "op-1"
        assert (await uow.queue.waiting_for("s-1")) is not None
        assert (await uow.tickets.get("t-1")).id == "t-1"
        assert [n.id for n in await uow.notes.list("s-1")] == ["n-1"]
        assert len(await uow.events.list(session_id="s-1")) == 1
        assert len(await uow.audit.list(subject="s-1")) == 1
        await uow.commit()
    await _assert_everything_stored(uow_factory)


async def _kill_my_backend(uow: UnitOfWork, url: str) -> None:
    """Have Postgres end the unit of work's connection, as a restart or a failover does."""
    assert isinstance(uow, SqlUnitOfWork)
    pid = (await uow._connection().exec_driver_sql("SELECT pg_backend_pid()")).scalar_one()
    with psycopg.connect(plain_url(url), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


async def _dropped_inside(database: SqlDatabase, url: str, *, then_fail: bool) -> None:
    """A unit of work whose connection Postgres drops; then it fails, or just ends."""
    async with database() as uow:
        await uow.sessions.count_by_status()
        await _kill_my_backend(uow, url)
        if then_fail:
            raise _AbandonError


async def test_a_connection_dropped_mid_unit_is_the_database_unavailable(
    postgres_url: str,
) -> None:
    """A unit whose connection Postgres dropped ends in ExternalServiceError (a 503).

    Not in the driver's error (a 500); an error already in flight stays the one raised.
    """
    async with open_postgres(postgres_url) as database:
        with pytest.raises(ExternalServiceError):
            await _dropped_inside(database, postgres_url, then_fail=False)
        with pytest.raises(_AbandonError):
            await _dropped_inside(database, postgres_url, then_fail=True)
        async with database() as uow:  # the pool hands out a live connection again
            assert await uow.sessions.count_by_status() == {}


@pytest.mark.parametrize("name", ["sqlite", "postgres"])
async def test_a_reader_does_not_wait_for_a_writer(
    name: str, request: pytest.FixtureRequest
) -> None:
    """A read-only unit reads the last committed state while a writer holds its lock.

    On SQLite every other unit begins with the write lock (BEGIN IMMEDIATE), so a poll
    would queue behind each visitor's message for up to the busy timeout.
    """
    async with opener_for(name, request)() as factory:
        async with factory() as uow:
            await uow.sessions.add(session("s-1"))
            await uow.commit()
        async with factory() as writer:
            changed = await writer.sessions.get("s-1", for_update=True)
            changed.language = Language.DE
            await writer.sessions.update(changed)
            async with asyncio.timeout(1), factory(read_only=True) as reader:
                seen = await reader.sessions.get("s-1")
            await writer.commit()
        assert seen.language is Language.IT
        async with factory(read_only=True) as reader:
            assert (await reader.sessions.get("s-1")).language is Language.DE
