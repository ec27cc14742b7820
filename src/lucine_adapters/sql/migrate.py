"""Schema migrations: Alembic configured in code, run on the engines of ``database.py``.

No ``alembic.ini`` is needed: the scripts ship inside the package (``migrations/``), so
``lucine db upgrade`` works from an installed wheel. Several processes may upgrade the
same database at once: on Postgres they queue on an advisory lock (see ``env.py``), on
SQLite on its write lock, and each then sees what the first one did.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from lucine_adapters.sql.database import make_engine
from lucine_core.errors import ConflictError, ExternalServiceError, ValidationError

__all__ = [
    "MIGRATIONS",
    "alembic_config",
    "current",
    "downgrade",
    "head",
    "is_known",
    "public_url",
    "upgrade",
]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# libpq waits forever for a silent host by default; a deploy step should fail instead.
CONNECT_TIMEOUT_SECONDS = "10"
_REASON_LENGTH = 200

# Alembic keeps the running migration in module globals (alembic.context, alembic.op), so
# one process must run one upgrade at a time; other processes are kept out by the database.
_IN_PROCESS = threading.Lock()


def alembic_config() -> Config:
    """Alembic's configuration for Lucine's migrations, built without an ini file."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    return config


def head() -> str:
    """The newest revision this version of Lucine knows (what ``upgrade`` reaches)."""
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if revision is None:
        raise RuntimeError(f"no migrations in {MIGRATIONS}")
    return revision


def is_known(revision: str) -> bool:
    """Whether ``revision`` is one of this version's migrations (else the database is newer)."""
    script = ScriptDirectory.from_config(alembic_config())
    return any(step.revision == revision for step in script.walk_revisions())


def public_url(url: str) -> str:
    """``url`` fit for printing and logs: the password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "<unparsable URL>"


async def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema of the database at ``url`` to ``revision`` (a no-op when there).

    Raises:
        ValidationError: ``url`` is not a database URL Lucine can use.
        ExternalServiceError: the database cannot be reached, or failed during the upgrade.
        ConflictError: the database is at a revision this version does not know (it is
            newer), or ``revision`` is unknown.
    """
    await _migrate(url, command.upgrade, revision)


async def _migrate(url: str, step: Callable[[Config, str], None], revision: str) -> None:
    parsed = _parse(url)
    if parsed.get_backend_name() == "sqlite":
        _make_folder(parsed)
    while not _IN_PROCESS.acquire(blocking=False):  # noqa: ASYNC110  # a thread lock: no Event
        await asyncio.sleep(0.05)
    try:
        engine = _engine(parsed, for_migration=True)
        try:
            async with engine.begin() as connection:
                await connection.run_sync(_run, step, revision)
        except (DBAPIError, OSError) as error:
            raise _unavailable(parsed, error) from error
        except CommandError as error:
            raise ConflictError(reason=_first_line(error)) from error
        finally:
            await engine.dispose()
    finally:
        _IN_PROCESS.release()


async def downgrade(url: str, revision: str) -> None:
    """Take the schema of the database at ``url`` back to ``revision`` (``-1``, an id, ``base``).

    The tables and columns added after ``revision`` are dropped with their data.

    Raises:
        ValidationError: ``url`` is not a database URL Lucine can use.
        ExternalServiceError: the database cannot be reached, or failed during the downgrade.
        ConflictError: ``revision`` is unknown or not below the database's, or the database
            is at a revision this version does not know.
    """
    await _migrate(url, command.downgrade, revision)


async def current(url: str) -> str | None:
    """The revision of the database at ``url``; None while it has no schema.

    A SQLite file that does not exist yet is reported empty and is not created.

    Raises:
        ValidationError: ``url`` is not a database URL Lucine can use.
        ExternalServiceError: the database cannot be reached.
        ConflictError: the database records more than one revision.
    """
    parsed = _parse(url)
    if _missing_sqlite_file(parsed):
        return None
    engine = _engine(parsed, for_migration=False)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_current)
    except (DBAPIError, OSError) as error:
        raise _unavailable(parsed, error) from error
    except CommandError as error:
        raise ConflictError(reason=_first_line(error)) from error
    finally:
        await engine.dispose()


def _run(connection: Connection, step: Callable[[Config, str], None], revision: str) -> None:
    config = alembic_config()
    # env.py runs on this connection, inside the caller's transaction.
    config.attributes["connection"] = connection
    step(config, revision)


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _parse(url: str) -> URL:
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise ValidationError(field="database URL", reason="cannot be parsed") from None
    if parsed.get_backend_name() not in {"sqlite", "postgresql"}:
        raise ValidationError(field="database URL", reason="must be a PostgreSQL or SQLite URL")
    return parsed


def _engine(url: URL, *, for_migration: bool) -> AsyncEngine:
    if url.get_backend_name() == "postgresql" and "connect_timeout" not in url.query:
        url = url.update_query_dict({"connect_timeout": CONNECT_TIMEOUT_SECONDS})
    engine = make_engine(url.render_as_string(hide_password=False), pool_size=1)
    if for_migration and url.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _foreign_keys_off)
    return engine


def _foreign_keys_off(dbapi_connection: Any, _record: Any) -> None:
    # Batch migrations rebuild a table by copy, drop and rename; with foreign keys on, the
    # drop would cascade into the rows referring to it. SQLite ignores this pragma inside a
    # transaction, hence at connect; env.py runs foreign_key_check before committing.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=OFF")
    cursor.close()


def _missing_sqlite_file(url: URL) -> bool:
    database = url.database or ""
    return (
        url.get_backend_name() == "sqlite"
        and not _in_memory(database)
        and not Path(database).exists()
    )


def _in_memory(database: str) -> bool:
    return database in {"", ":memory:"} or database.startswith("file:")


def _make_folder(url: URL) -> None:
    database = url.database or ""
    if _in_memory(database):
        return
    try:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _unavailable(url, error) from error


def _unavailable(url: URL, error: BaseException) -> ExternalServiceError:
    if url.get_backend_name() == "sqlite":
        where = url.database or ":memory:"
    else:
        where = f"{url.host or 'localhost'}:{url.port or 5432}/{url.database or ''}"
    cause = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    return ExternalServiceError(service=f"database at {where}", reason=_first_line(cause))


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = lines[0] if lines else type(error).__name__
    return text[:_REASON_LENGTH]
