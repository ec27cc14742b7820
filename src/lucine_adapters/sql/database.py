"""Engines and the SQL unit of work (SQLite embedded, Postgres in production)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, event, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from lucine_adapters.sql.stores import (
    SqlAuditStore,
    SqlEventStore,
    SqlMessageStore,
    SqlNoteStore,
    SqlOperatorStore,
    SqlQueueStore,
    SqlSessionStore,
    SqlTicketStore,
)
from lucine_adapters.sql.tables import metadata
from lucine_core.errors import ConcurrencyError, ExternalServiceError, ValidationError

__all__ = ["SqlDatabase", "SqlUnitOfWork", "make_engine", "sqlite_url", "translate_error"]

# Postgres: serialization_failure and deadlock_detected; a retry on fresh data resolves both.
_RETRYABLE = {"40001", "40P01"}
_NUL_IN_TEXT = "22021"
SQLITE_BUSY_TIMEOUT_MS = 5000
# Without a bound, connecting to a Postgres host that has gone silent (a frozen server, a
# dropped route, a failover in progress) waits for TCP to give up, minutes: every request,
# /api/health included, would hang instead of answering 503. A URL's own wins.
POSTGRES_CONNECT_TIMEOUT_SECONDS = 3


def sqlite_url(path: Path) -> str:
    """The async SQLAlchemy URL of a SQLite file."""
    return f"sqlite+aiosqlite:///{path}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy issue BEGIN itself (below) instead of the driver's implicit one.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


_READ_ONLY = "lucine_read_only"


def _sqlite_begin(conn: Any) -> None:
    # Take the write lock at BEGIN: two read-then-write transactions can then never
    # deadlock upgrading their locks; they queue on the busy timeout instead. A unit of
    # work that only reads begins deferred: it reads a WAL snapshot, beside the writer.
    read_only = conn.get_execution_options().get(_READ_ONLY, False)
    conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def make_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    """An async engine for ``url``, with SQLite tuned for one writer at a time.

    Postgres connections give up after POSTGRES_CONNECT_TIMEOUT_SECONDS unless ``url``
    sets its own ``connect_timeout``.
    """
    if url.startswith("sqlite"):
        engine = create_async_engine(url, echo=echo)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        return engine
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in make_url(url).query:
        connect_args["connect_timeout"] = POSTGRES_CONNECT_TIMEOUT_SECONDS
    return create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        connect_args=connect_args,
    )


class SqlDatabase:
    """A UnitOfWorkFactory over an engine; call it to get a unit of work."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def __call__(self, *, read_only: bool = False) -> SqlUnitOfWork:
        """A new unit of work; a ``read_only`` one takes no write lock on SQLite."""
        return SqlUnitOfWork(self.engine, read_only=read_only)

    async def create_schema(self) -> None:
        """Create every table at the newest revision (tests and throwaway databases).

        Real databases use migrations; the tables are the same (tested), so the schema is
        stamped with the head revision and reads as current.
        """
        async with self.engine.begin() as conn:
            await conn.run_sync(_create_at_head)

    async def ping(self) -> None:
        """Raise ExternalServiceError unless the database answers."""
        try:
            async with self.engine.connect() as conn:
                await conn.exec_driver_sql("SELECT 1")
        except (OSError, DBAPIError) as error:
            raise ExternalServiceError(service="database", reason=type(error).__name__) from error

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


def _create_at_head(connection: Connection) -> None:
    from lucine_adapters.sql import migrate  # noqa: PLC0415 - migrate imports this module

    metadata.create_all(connection)
    script = ScriptDirectory.from_config(migrate.alembic_config())
    MigrationContext.configure(connection).stamp(script, "head")


def translate_error(error: DBAPIError) -> Exception:
    """The domain error a driver error stands for (retry, bad input, or the database down)."""
    code = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    if code in _RETRYABLE:
        return ConcurrencyError(reason="the database asked to retry")
    if code == _NUL_IN_TEXT or "NUL" in str(error.orig):
        # Postgres text cannot hold U+0000; no stored id or name contains one.
        return ValidationError(field="input", reason="must not contain NUL characters")
    if isinstance(error, OperationalError) and "locked" in str(error.orig):
        return ConcurrencyError(reason="the database was busy")
    return ExternalServiceError(service="database", reason=type(error.orig).__name__)


class SqlUnitOfWork:
    """One transaction on one connection; rolled back unless committed."""

    def __init__(self, engine: AsyncEngine, *, read_only: bool = False) -> None:
        self._engine = engine
        self._read_only = read_only
        self._conn: AsyncConnection | None = None

    def _connection(self) -> AsyncConnection:
        if self._conn is None:
            raise RuntimeError("use the unit of work inside 'async with'")
        return self._conn

    async def __aenter__(self) -> Self:
        try:
            self._conn = await self._engine.connect()
            if self._read_only:
                await self._conn.execution_options(**{_READ_ONLY: True})
            await self._conn.begin()
        except DBAPIError as error:
            if self._conn is not None:
                with contextlib.suppress(DBAPIError):  # the connection is gone anyway
                    await self._conn.close()
                self._conn = None
            raise translate_error(error) from error
        conn = self._conn
        self.sessions = SqlSessionStore(conn)
        self.messages = SqlMessageStore(conn)
        self.operators = SqlOperatorStore(conn)
        self.queue = SqlQueueStore(conn)
        self.tickets = SqlTicketStore(conn)
        self.notes = SqlNoteStore(conn)
        self.events = SqlEventStore(conn)
        self.audit = SqlAuditStore(conn)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn = self._connection()
        self._conn = None
        failed: DBAPIError | None = None  # a rollback on a connection the database dropped
        try:
            if conn.in_transaction():
                await conn.rollback()
        except DBAPIError as error:
            failed = error
        finally:
            with contextlib.suppress(DBAPIError):
                await conn.close()
        if isinstance(exc, DBAPIError):
            raise translate_error(exc) from exc
        if exc is None and failed is not None:
            raise translate_error(failed) from failed
        # Any other error in flight stays the one raised, not the failed rollback.

    async def commit(self) -> None:
        """Commit the transaction."""
        try:
            await self._connection().commit()
        except DBAPIError as error:
            raise translate_error(error) from error

    async def rollback(self) -> None:
        """Discard the transaction's changes."""
        try:
            await self._connection().rollback()
        except DBAPIError as error:
            raise translate_error(error) from error
