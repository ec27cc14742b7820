"""Readiness: the database answers in time and its schema is the one this version expects."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import attrs
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text

from lucine_adapters.jobs import BackgroundJobs
from lucine_adapters.readiness import Readiness
from lucine_adapters.sql.database import SqlDatabase, make_engine, sqlite_url
from lucine_adapters.sql.migrate import alembic_config, head, upgrade
from lucine_core.services import Services


def _readiness(services: Services, database: SqlDatabase, timeout: float = 3.0) -> Readiness:
    on_sql = attrs.evolve(services, uow=database)
    return Readiness(on_sql, BackgroundJobs(on_sql), timeout=timeout)


@pytest.fixture
async def migrated(tmp_path: Path) -> AsyncIterator[SqlDatabase]:
    """A SQLite file brought to head by the migrations."""
    url = sqlite_url(tmp_path / "lucine.sqlite3")
    await upgrade(url)
    database = SqlDatabase(make_engine(url))
    try:
        yield database
    finally:
        await database.dispose()


async def _set_revision(database: SqlDatabase, revision: str) -> None:
    async with database.engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})


async def test_a_migrated_database_is_ready(services: Services, migrated: SqlDatabase) -> None:
    """At head: ok, current, ready, and the revision is reported."""
    report = await _readiness(services, migrated).check()
    assert (report.database, report.schema, report.ready) == ("ok", "current", True)
    assert report.revision == report.expected == head()


async def test_a_database_behind_the_code_is_not_ready(services: Services, tmp_path: Path) -> None:
    """Migrated only up to the previous revision: "behind", not ready."""
    script = ScriptDirectory.from_config(alembic_config())
    previous = script.get_revision(head()).down_revision
    assert isinstance(previous, str)
    url = sqlite_url(tmp_path / "old.sqlite3")
    await upgrade(url, previous)
    database = SqlDatabase(make_engine(url))
    try:
        report = await _readiness(services, database).check()
    finally:
        await database.dispose()
    assert (report.database, report.schema, report.ready) == ("ok", "behind", False)
    assert report.revision == previous


async def test_a_database_upgraded_by_a_newer_release_is_not_ready(
    services: Services, migrated: SqlDatabase
) -> None:
    """A revision this version does not know: "ahead", not ready (the new release serves)."""
    await _set_revision(migrated, "f00dcafe1234")
    report = await _readiness(services, migrated).check()
    assert (report.database, report.schema, report.ready) == ("ok", "ahead", False)


async def test_a_throwaway_schema_reads_as_current(services: Services, tmp_path: Path) -> None:
    """create_schema (tests, demos) stamps the head revision: the same tables."""
    database = SqlDatabase(make_engine(sqlite_url(tmp_path / "throwaway.sqlite3")))
    try:
        await database.create_schema()
        report = await _readiness(services, database).check()
    finally:
        await database.dispose()
    assert report.ready
    assert report.revision == head()


async def test_the_in_memory_adapters_are_always_current(services: Services) -> None:
    """No schema to be behind."""
    report = await Readiness(services, BackgroundJobs(services)).check()
    assert report.ready


async def test_a_probe_that_never_returns_is_unavailable_in_time(
    services: Services, migrated: SqlDatabase
) -> None:
    """A database holding its write lock past the bound: "unavailable" at the bound.

    Two checks at once both answer so; once the lock is released the next ones are ready.
    """
    readiness = _readiness(services, migrated, timeout=0.3)
    blocker = await migrated.engine.connect()
    try:
        await blocker.exec_driver_sql("SELECT 1")  # BEGIN IMMEDIATE holds the write lock
        started = asyncio.get_running_loop().time()
        first, second = await asyncio.gather(readiness.check(), readiness.check())
        assert asyncio.get_running_loop().time() - started < 2.0
        assert first.database == second.database == "unavailable"
        assert not first.ready
    finally:
        await blocker.rollback()
        await blocker.close()
    for _ in range(50):
        report = await readiness.check()
        if report.ready:
            break
        await asyncio.sleep(0.1)
    assert report.ready
