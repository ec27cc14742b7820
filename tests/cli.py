"""Running `lucine` commands in tests: on a fresh SQLite data directory or the run's Postgres.

`cli_database` (a fixture, parametrised over both databases) points the command line's
settings at an empty database of that kind. `invoke` runs one command through Typer's
CliRunner; `on_database` runs a coroutine on the same database's services, to arrange
chats and accounts as the product makes them; `snapshot` reads every row of every table,
so that a test can check that a refused command changed nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from lucine_cli.common import database_services, load_settings
from lucine_cli.main import app
from lucine_core.services import Services
from tests.databases import empty_postgres

__all__ = ["DATABASES", "cli_database", "invoke", "on_database", "snapshot"]

T = TypeVar("T")

DATABASES = ("sqlite", "postgres")

_runner = CliRunner()


@pytest.fixture(params=DATABASES)
def cli_database(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """Point the command line at an empty database; returns "sqlite" or "postgres".

    SQLite is a fresh data directory (no file yet: the first command makes it); Postgres
    is the test run's database with every row removed. The sentence encoder is off, so
    that each command starts quickly; a test that needs it sets LUCINE_EMBEDDINGS itself.
    """
    monkeypatch.setenv("LUCINE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LUCINE_EMBEDDINGS", "off")
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("LUCINE_LLM_API_KEY", raising=False)
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        empty_postgres(url)
        monkeypatch.setenv("DATABASE_URL", url)
    else:
        monkeypatch.delenv("DATABASE_URL", raising=False)
    return str(request.param)


def invoke(*args: str, input: str | None = None) -> Result:
    """Run `lucine ARGS...` in this process; stderr is kept apart from stdout."""
    return _runner.invoke(app, list(args), input=input)


def on_database(work: Callable[[Services], Awaitable[T]]) -> T:
    """Run ``work`` on the services of the database the command line is pointed at."""

    async def go() -> T:
        async with database_services(load_settings()) as services:
            return await work(services)

    return asyncio.run(go())


def snapshot() -> dict[str, Sequence[tuple[Any, ...]]]:
    """Every row of every table of the command line's database, for before/after checks."""
    from lucine_adapters.sql.database import SqlDatabase, make_engine  # noqa: PLC0415
    from lucine_adapters.sql.tables import metadata  # noqa: PLC0415

    async def read() -> dict[str, Sequence[tuple[Any, ...]]]:
        database = SqlDatabase(make_engine(load_settings().resolved_database_url, pool_size=1))
        try:
            async with database.engine.connect() as conn:
                rows: dict[str, Sequence[tuple[Any, ...]]] = {}
                for table in metadata.sorted_tables:
                    result = await conn.execute(select(table))
                    rows[table.name] = sorted((tuple(r) for r in result), key=repr)
                return rows
        finally:
            await database.dispose()

    return asyncio.run(read())
