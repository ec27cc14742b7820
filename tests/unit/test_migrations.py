"""Schema migrations: from empty to head on SQLite and Postgres, concurrently, and `lucine db`."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from psycopg import sql
from sqlalchemy import Connection, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from lucine_adapters.sql.database import make_engine, sqlite_url
from lucine_adapters.sql.migrate import alembic_config, current, head, upgrade
from lucine_adapters.sql.tables import UtcDateTime, metadata
from lucine_cli.main import app
from lucine_core.errors import ConflictError
from tests.databases import admin_url, require_postgres

T = TypeVar("T")

WAITING_INDEX = "uq_queue_entries_waiting_session"
UTC_COLUMNS = {
    (table.name, column.name)
    for table in metadata.sorted_tables
    for column in table.columns
    if isinstance(column.type, UtcDateTime)
}


@contextmanager
def empty_postgres() -> Iterator[str]:
    """A new database with nothing in it (the shared fixture's one has the schema already)."""
    require_postgres()
    name = f"lucine_migrate_{os.getpid()}_{secrets.token_hex(3)}"
    admin = make_url(admin_url())
    plain = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield admin.set(drivername="postgresql+psycopg", database=name).render_as_string(
            hide_password=False
        )
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind; the SQLite file's folder does not exist yet."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "not" / "yet" / "lucine.sqlite3")
        return
    with empty_postgres() as url:
        yield url


async def on_connection(url: str, work: Callable[[Connection], T]) -> T:
    """Run ``work`` on a sync connection to ``url`` (inspection and alembic's API)."""
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            return await conn.run_sync(work)
    finally:
        await engine.dispose()


def differences(conn: Connection) -> list[Any]:
    """What autogenerate would change to make the database match ``metadata``."""
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


def schema(conn: Connection) -> dict[str, Any]:
    """Tables with their columns, indexes and unique constraints, as reflected."""
    inspector = inspect(conn)
    return {
        name: (
            [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(name)],
            sorted(
                (i["name"] or "", tuple(i["column_names"])) for i in inspector.get_indexes(name)
            ),
            sorted(u["name"] or "" for u in inspector.get_unique_constraints(name)),
        )
        for name in inspector.get_table_names()
    }


def queue_row(entry_id: str, status: str) -> dict[str, Any]:
    """A queue entry of session s1."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return {"id": entry_id, "s": "s1", "at": at, "status": status}


INSERT_QUEUE = text(
    "INSERT INTO queue_entries (id, session_id, requested_at, priority, status)"
    " VALUES (:id, :s, :at, 0, :status)"
)


async def test_upgrade_from_empty_creates_exactly_the_metadata_schema(empty_url: str) -> None:
    """Upgrading an empty database reaches head with nothing autogenerate would change."""
    assert await current(empty_url) is None
    await upgrade(empty_url)
    assert await current(empty_url) == head() == "0006"
    assert await on_connection(empty_url, differences) == []
    tables = await on_connection(empty_url, lambda c: set(inspect(c).get_table_names()))
    assert tables == set(metadata.tables) | {"alembic_version"}


async def test_upgrading_twice_is_a_noop_that_keeps_the_data(empty_url: str) -> None:
    """A second upgrade changes neither the schema, the revision nor the rows."""
    await upgrade(empty_url)
    await on_connection(empty_url, lambda c: c.execute(INSERT_QUEUE, queue_row("q1", "WAITING")))
    before = await on_connection(empty_url, schema)
    await upgrade(empty_url)
    assert await on_connection(empty_url, schema) == before
    assert await current(empty_url) == head()
    count = await on_connection(
        empty_url, lambda c: c.execute(text("SELECT count(*) FROM queue_entries")).scalar()
    )
    assert count == 1


async def test_the_partial_unique_index_allows_one_waiting_entry_per_session(
    empty_url: str,
) -> None:
    """After the migration a session can wait once, but be served any number of times."""
    await upgrade(empty_url)
    await on_connection(empty_url, lambda c: c.execute(INSERT_QUEUE, queue_row("q1", "WAITING")))
    await on_connection(empty_url, lambda c: c.execute(INSERT_QUEUE, queue_row("q2", "SERVED")))
    await on_connection(empty_url, lambda c: c.execute(INSERT_QUEUE, queue_row("q3", "SERVED")))
    with pytest.raises(IntegrityError):
        await on_connection(
            empty_url, lambda c: c.execute(INSERT_QUEUE, queue_row("q4", "WAITING"))
        )


INSERT_MESSAGE = text(
    "INSERT INTO messages (session_id, seq, id, sender, text, at, meta, client_message_id)"
    " VALUES (:s, :seq, :id, 'USER', 'ciao', :at, '{}', :client)"
)


def message_row(session_id: str, seq: int, client: str | None) -> dict[str, Any]:
    """A visitor's message with client message id ``client``."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return {"s": session_id, "seq": seq, "id": f"{session_id}-{seq}", "at": at, "client": client}


async def test_client_message_ids_are_unique_per_session_and_nulls_never_clash(
    empty_url: str,
) -> None:
    """From 0006 on a session has one message per client id; ids it lacks (NULL) never clash."""
    await upgrade(empty_url, "0005")
    old = text(
        "INSERT INTO messages (session_id, seq, id, sender, text, at, meta)"
        " VALUES ('s1', 1, 's1-1', 'USER', 'ciao', :at, '{}')"
    )
    await on_connection(
        empty_url, lambda c: c.execute(old, {"at": datetime(2026, 1, 1, tzinfo=UTC)})
    )
    await upgrade(empty_url)
    rows = [message_row("s1", 2, None), message_row("s1", 3, "c-1"), message_row("s2", 1, "c-1")]
    await on_connection(empty_url, lambda c: c.execute(INSERT_MESSAGE, rows))
    with pytest.raises(IntegrityError):
        await on_connection(
            empty_url, lambda c: c.execute(INSERT_MESSAGE, message_row("s1", 4, "c-1"))
        )
    kept = await on_connection(
        empty_url,
        lambda c: c.execute(
            text("SELECT seq, client_message_id FROM messages WHERE session_id = 's1' ORDER BY seq")
        ).all(),
    )
    assert [tuple(r) for r in kept] == [(1, None), (2, None), (3, "c-1")]


INSERT_OLD_SESSION = text(
    "INSERT INTO sessions (id, status, language, created_at, last_activity_at,"
    " status_changed_at, message_count, escalation, sla_alerts, history_count, version)"
    " VALUES (:id, 'ACTIVE', 'it', :at, :at, :at, 1, '{}', '[]', 0, 1)"
)
INSERT_SESSION = text(
    "INSERT INTO sessions (id, status, language, created_at, last_activity_at,"
    " status_changed_at, message_count, escalation, sla_alerts, history_count, version,"
    " opening_client_message_id)"
    " VALUES (:id, 'ACTIVE', 'it', :at, :at, :at, 1, '{}', '[]', 0, 1, :opening)"
)


async def test_a_client_message_id_opens_one_chat_and_nulls_never_clash(empty_url: str) -> None:
    """From 0006 on one session per opening client id; older sessions, and most, have none."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    await upgrade(empty_url, "0005")
    await on_connection(empty_url, lambda c: c.execute(INSERT_OLD_SESSION, {"id": "s0", "at": at}))
    await upgrade(empty_url)
    rows = [{"id": sid, "at": at, "opening": key} for sid, key in [("s1", None), ("s2", "k-1")]]
    await on_connection(empty_url, lambda c: c.execute(INSERT_SESSION, rows))
    clash = {"id": "s3", "at": at, "opening": "k-1"}
    with pytest.raises(IntegrityError):
        await on_connection(empty_url, lambda c: c.execute(INSERT_SESSION, clash))
    kept = await on_connection(
        empty_url,
        lambda c: c.execute(
            text("SELECT id, opening_client_message_id FROM sessions ORDER BY id")
        ).all(),
    )
    assert [tuple(r) for r in kept] == [("s0", None), ("s1", None), ("s2", "k-1")]


async def test_downgrade_to_base_removes_every_table(empty_url: str) -> None:
    """Every revision's downgrade together leaves only Alembic's own table; redoable."""

    def downgrade(conn: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = conn
        command.downgrade(config, "base")

    await upgrade(empty_url)
    await on_connection(empty_url, downgrade)
    tables = await on_connection(empty_url, lambda c: set(inspect(c).get_table_names()))
    assert tables == {"alembic_version"}
    assert await current(empty_url) is None
    await upgrade(empty_url)
    assert await on_connection(empty_url, differences) == []


async def test_a_database_newer_than_the_code_is_refused(empty_url: str) -> None:
    """A revision this version does not know makes upgrade raise ConflictError, changing nothing."""
    await upgrade(empty_url)
    await on_connection(
        empty_url, lambda c: c.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    )
    with pytest.raises(ConflictError):
        await upgrade(empty_url)
    assert await current(empty_url) == "9999"


async def test_sqlite_partial_index_keeps_its_where_clause(tmp_path: Path) -> None:
    """On SQLite the waiting-session index is created partial, as tables.py declares it."""
    url = sqlite_url(tmp_path / "lucine.sqlite3")
    await upgrade(url)
    ddl = await on_connection(
        url,
        lambda c: c.execute(
            text("SELECT sql FROM sqlite_master WHERE name = :n"), {"n": WAITING_INDEX}
        ).scalar(),
    )
    assert "UNIQUE INDEX" in ddl
    assert "WHERE status = 'WAITING'" in ddl


async def test_current_does_not_create_a_missing_sqlite_file(tmp_path: Path) -> None:
    """The revision of a SQLite file that does not exist is None, and nothing is created."""
    path = tmp_path / "absent" / "lucine.sqlite3"
    assert await current(sqlite_url(path)) is None
    assert not path.parent.exists()


@pytest.mark.postgres
async def test_postgres_has_the_partial_index_and_aware_timestamps() -> None:
    """On Postgres the waiting index is partial and every UtcDateTime column is timestamptz."""
    with empty_postgres() as url:
        await upgrade(url)
        indexdef = await on_connection(
            url,
            lambda c: c.execute(
                text("SELECT indexdef FROM pg_indexes WHERE indexname = :n"), {"n": WAITING_INDEX}
            ).scalar(),
        )
        columns = await on_connection(
            url,
            lambda c: c.execute(
                text(
                    "SELECT table_name, column_name, data_type FROM information_schema.columns"
                    " WHERE table_schema = 'public' AND data_type LIKE 'timestamp%'"
                )
            ).all(),
        )
    assert indexdef is not None
    assert "CREATE UNIQUE INDEX" in indexdef
    assert "WHERE" in indexdef
    assert "'WAITING'" in indexdef
    assert {(t, c) for t, c, kind in columns if kind == "timestamp with time zone"} == UTC_COLUMNS
    assert [row for row in columns if row[2] != "timestamp with time zone"] == []


WORKER = """
import asyncio, pathlib, sys, time
from lucine_adapters.sql.migrate import upgrade
print("ready", flush=True)
go = pathlib.Path(sys.argv[2])
while not go.exists():
    time.sleep(0.002)
asyncio.run(upgrade(sys.argv[1]))
"""


@pytest.mark.postgres
async def test_concurrent_upgrades_of_one_postgres_database_all_succeed(tmp_path: Path) -> None:
    """Three processes upgrading one empty database at the same instant all succeed, once."""
    go = tmp_path / "go"
    with empty_postgres() as url:
        workers = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                WORKER,
                url,
                str(go),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            for _ in range(3)
        ]
        for worker in workers:
            assert worker.stdout is not None
            assert await asyncio.wait_for(worker.stdout.readline(), 60) == b"ready\n"
        go.touch()
        results = [await asyncio.wait_for(worker.communicate(), 60) for worker in workers]
        assert [w.returncode for w in workers] == [0, 0, 0], [err for _, err in results]
        assert await current(url) == head()
        assert await on_connection(url, differences) == []
        versions = await on_connection(
            url, lambda c: c.execute(text("SELECT count(*) FROM alembic_version")).scalar()
        )
        assert versions == 1


runner = CliRunner()


def cli_env(data_dir: Path, **extra: str) -> dict[str, str | None]:
    """Only ``data_dir`` and ``extra``: any outer LUCINE_* and DATABASE_URL are unset."""
    unset: dict[str, str | None] = {
        name: None for name in os.environ if name.startswith("LUCINE_") or name == "DATABASE_URL"
    }
    return {**unset, "LUCINE_DATA_DIR": str(data_dir), **extra}


def test_cli_db_current_then_upgrade_then_current(tmp_path: Path) -> None:
    """`db current` says empty (creating nothing), `db upgrade` reaches head, `current` agrees."""
    env = cli_env(tmp_path / "data")
    before = runner.invoke(app, ["db", "current"], env=env)
    assert before.exit_code == 0, before.output
    assert before.stdout.strip().endswith("is empty (no schema yet)")
    assert str(tmp_path / "data" / "lucine.sqlite3") in before.stdout
    assert not (tmp_path / "data").exists()

    upgraded = runner.invoke(app, ["db", "upgrade"], env=env)
    assert upgraded.exit_code == 0, upgraded.output
    assert upgraded.stdout.count("\n") == 1
    assert upgraded.stdout.strip().endswith(f"is at revision {head()} (head)")
    assert (tmp_path / "data" / "lucine.sqlite3").is_file()

    after = runner.invoke(app, ["db", "current"], env=env)
    assert after.exit_code == 0, after.output
    assert after.stdout.strip().endswith(f"is at revision {head()} (head)")


def test_cli_db_current_flags_a_revision_it_does_not_know(tmp_path: Path) -> None:
    """A database migrated by a newer Lucine is reported as such, and current still exits 0."""
    env = cli_env(tmp_path)
    assert runner.invoke(app, ["db", "upgrade"], env=env).exit_code == 0
    url = sqlite_url(tmp_path / "lucine.sqlite3")
    asyncio.run(
        on_connection(url, lambda c: c.execute(text("UPDATE alembic_version SET version_num='9'")))
    )
    result = runner.invoke(app, ["db", "current"], env=env)
    assert result.exit_code == 0, result.output
    assert "revision 9 (unknown here" in result.stdout
    refused = runner.invoke(app, ["db", "upgrade"], env=env)
    assert refused.exit_code == 2
    assert refused.stderr.count("\n") == 1


@pytest.mark.parametrize("command_name", ["current", "upgrade"])
def test_cli_db_rejects_a_url_of_another_database(tmp_path: Path, command_name: str) -> None:
    """DATABASE_URL=mysql://x exits 2 with one line naming the variable, creating nothing."""
    result = runner.invoke(
        app, ["db", command_name], env=cli_env(tmp_path, DATABASE_URL="mysql://x")
    )
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "DATABASE_URL" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command_name", ["current", "upgrade"])
def test_cli_db_unreachable_database_is_one_line_naming_the_host(
    tmp_path: Path, command_name: str
) -> None:
    """A refused connection exits 1 in one line naming host and port, no password.

    Exit 1: the command could not be done now (exit 2 is for what it was given wrong).
    """
    url = "postgresql://lucine:hunter2-secret@127.0.0.1:1/lucine"
    result = runner.invoke(app, ["db", command_name], env=cli_env(tmp_path, DATABASE_URL=url))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "127.0.0.1:1" in result.stderr
    assert "hunter2" not in result.stderr
    assert "Traceback" not in result.output
