"""Nothing half-written: a database error between the writes of a use case leaves none behind.

The fault is injected inside the real database (a trigger that refuses the use case's
last insert, the analytics event), so the adapters under test are the production ones.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import attrs
import pytest
from sqlalchemy import text

from lucine_adapters.bootstrap import bootstrap_in_memory
from lucine_adapters.sql.database import SqlDatabase, make_engine
from lucine_core.errors import ExternalServiceError
from lucine_core.services import Services
from lucine_core.services.chat import poll, visitor_message
from tests.contract.conftest import ADAPTERS, opener_for

SQLITE_TRIGGER = [
    "CREATE TRIGGER refuse_events BEFORE INSERT ON events"
    " BEGIN SELECT RAISE(ABORT, 'injected'); END",
]
POSTGRES_TRIGGER = [
    "CREATE FUNCTION refuse_events() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected'; END $$"
    " LANGUAGE plpgsql",
    "CREATE TRIGGER refuse_events BEFORE INSERT ON events"
    " FOR EACH ROW EXECUTE FUNCTION refuse_events()",
]
DROP = {
    "sqlite": ["DROP TRIGGER refuse_events"],
    "postgresql": ["DROP TRIGGER refuse_events ON events", "DROP FUNCTION refuse_events()"],
}


@pytest.fixture(params=[name for name in ADAPTERS if name != "memory"])
async def database(request: pytest.FixtureRequest) -> AsyncIterator[SqlDatabase]:
    """A fresh SQL database of each kind."""
    async with opener_for(request.param, request)() as factory:
        assert isinstance(factory, SqlDatabase)
        yield factory


async def _execute(database: SqlDatabase, statements: list[str]) -> None:
    async with database.engine.begin() as conn:
        for statement in statements:
            await conn.execute(text(statement))


def _services(database: SqlDatabase) -> Services:
    return attrs.evolve(bootstrap_in_memory(), uow=database)


async def test_failed_event_write_rolls_back_message_and_session(database: SqlDatabase) -> None:
    """When the event insert fails, the visitor's message and the session update vanish too."""
    services = _services(database)
    first = await visitor_message(services, text="ciao", session_id=None)
    before = await poll(services, session_id=first.session_id)
    async with database() as uow:
        version = (await uow.sessions.get(first.session_id)).version
        events_before = len(await uow.events.list())
    await _execute(database, SQLITE_TRIGGER if database.dialect == "sqlite" else POSTGRES_TRIGGER)
    try:
        with pytest.raises(ExternalServiceError):
            await visitor_message(services, text="questo non resta", session_id=first.session_id)
        with pytest.raises(ExternalServiceError):
            await visitor_message(services, text="nemmeno questa sessione", session_id=None)
    finally:
        await _execute(database, DROP[database.dialect])
    after = await poll(services, session_id=first.session_id)
    assert [m.text for m in after.messages] == [m.text for m in before.messages]
    async with database() as uow:
        assert (await uow.sessions.get(first.session_id)).version == version
        assert len(await uow.events.list()) == events_before
        assert len(await uow.sessions.list(limit=10)) == 1


async def test_accepted_message_is_committed_before_the_call_returns(
    database: SqlDatabase,
) -> None:
    """A message the use case returned is readable at once through a brand-new connection pool."""
    services = _services(database)
    reply = await visitor_message(services, text="a che ora aprite?", session_id=None)
    other = SqlDatabase(make_engine(database.engine.url.render_as_string(hide_password=False)))
    try:
        async with other() as uow:
            stored = await uow.messages.list(reply.session_id)
    finally:
        await other.dispose()
    assert [m.text for m in stored][:1] == ["a che ora aprite?"]
    assert len(stored) == 2
