"""Alembic's environment: run the migrations on the connection ``migrate.py`` hands over.

``lucine_adapters.sql.migrate`` configures Alembic in code and passes a connection that is
already inside a transaction as ``config.attributes["connection"]``; the caller commits.
Without one (Alembic's own API, e.g. to autogenerate the next revision) the environment
connects to the ``sqlalchemy.url`` option itself, or writes SQL in offline mode.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection, text

from lucine_adapters.sql.database import make_engine
from lucine_adapters.sql.tables import UtcDateTime, metadata

# Any fixed 64-bit number: the bytes of "lucinedb". Every process migrating one Postgres
# database queues on it, so two workers starting at once never both run a migration.
ADVISORY_LOCK_KEY = int.from_bytes(b"lucinedb", "big")


def _render_item(kind: str, item: Any, _context: AutogenContext) -> str | Literal[False]:
    # Revisions must not import tables.py: they describe the schema as it was back then.
    if kind == "type" and isinstance(item, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run_on(connection: Connection) -> None:
    dialect = connection.dialect.name
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite alters most things only by rebuilding the table: Alembic's batch mode.
        render_as_batch=dialect == "sqlite",
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        if dialect == "postgresql":
            # Released at commit; whoever waited then reads the revision the first one left.
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
            )
        context.run_migrations()
        if dialect == "sqlite":
            # migrate.py turned foreign keys off for batch mode; prove nothing was orphaned.
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"the migration broke foreign keys: {broken[:5]}")


async def _run_online(url: str) -> None:
    engine = make_engine(url, pool_size=1)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_run_on)
    finally:
        await engine.dispose()


def _run_offline(url: str) -> None:
    context.configure(
        url=url,
        target_metadata=metadata,
        render_as_batch=url.startswith("sqlite"),
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("pass a connection in config.attributes or set sqlalchemy.url")
    if context.is_offline_mode():
        _run_offline(url)
    else:
        asyncio.run(_run_online(url))


_main()
