"""Real databases for tests: a temporary SQLite file, and a fresh Postgres database per run.

Postgres comes from LUCINE_TEST_DATABASE_URL, else the local server on 127.0.0.1:5432.
Where none answers the Postgres tests skip with one line; under CI=true they fail.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from lucine_adapters.sql import migrate
from lucine_adapters.sql.database import SqlDatabase, make_engine, sqlite_url
from lucine_adapters.sql.tables import metadata

DEFAULT_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TABLES = ", ".join(t.name for t in reversed(metadata.sorted_tables))


def admin_url() -> str:
    """Where to create test databases."""
    return os.environ.get("LUCINE_TEST_DATABASE_URL", DEFAULT_ADMIN_URL)


def plain_url(url: str) -> str:
    """The libpq form of an SQLAlchemy URL, for psycopg."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def postgres_unavailable() -> str | None:
    """Why Postgres cannot be used here, or None if it answers."""
    try:
        with psycopg.connect(plain_url(admin_url()), connect_timeout=3):
            return None
    except psycopg.Error as error:
        return f"no PostgreSQL at {make_url(admin_url()).render_as_string()}: {error}".splitlines()[
            0
        ]


def require_postgres() -> None:
    """Skip (or, under CI=true, fail) when Postgres is not reachable."""
    reason = postgres_unavailable()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


def empty_postgres(url: str) -> None:
    """Remove every row from the test run's Postgres database ``url``."""
    with psycopg.connect(plain_url(url), autocommit=True) as conn:
        conn.execute(f"TRUNCATE {TABLES} RESTART IDENTITY")  # type: ignore[arg-type]  # ours


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh database with the schema, for this test run; dropped afterwards."""
    require_postgres()
    name = f"lucine_test_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(plain_url(admin_url()), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]  # name is ours
    url = make_url(admin_url()).set(database=name).render_as_string(hide_password=False)
    # The schema as production builds it (stamped); in a thread of its own, since the
    # first test asking for the database may be running in an event loop already.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, migrate.upgrade(url)).result()
    try:
        yield url
    finally:
        with psycopg.connect(plain_url(admin_url()), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


@asynccontextmanager
async def open_postgres(url: str, *, pool_size: int = 10) -> AsyncIterator[SqlDatabase]:
    """The run's Postgres database, emptied first."""
    database = SqlDatabase(make_engine(url, pool_size=pool_size))
    async with database.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY"))
    try:
        yield database
    finally:
        await database.dispose()


@asynccontextmanager
async def open_sqlite(folder: Path) -> AsyncIterator[SqlDatabase]:
    """A new SQLite file with the schema."""
    path = folder / f"lucine-{secrets.token_hex(4)}.sqlite3"
    database = SqlDatabase(make_engine(sqlite_url(path)))
    await database.create_schema()
    try:
        yield database
    finally:
        await database.dispose()
