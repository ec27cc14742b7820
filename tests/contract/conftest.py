"""The adapters every contract suite runs against, and the fixture that opens them.

Each entry of ``ADAPTERS`` opens one empty database for one test and closes it after,
so an adapter that needs asynchronous setup and teardown (a temporary SQLite file, a
Postgres schema) is added here as one more entry and runs every suite unchanged.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from types import MappingProxyType

import pytest

from lucine_adapters.memory import InMemoryDatabase
from lucine_core.ports import UnitOfWorkFactory
from tests.databases import open_postgres, open_sqlite

__all__ = ["ADAPTERS", "AdapterOpener"]

AdapterOpener = Callable[[], AbstractAsyncContextManager[UnitOfWorkFactory]]
"""Opens an empty database and yields its unit-of-work factory; cleans up on exit."""


@asynccontextmanager
async def _memory() -> AsyncIterator[UnitOfWorkFactory]:
    yield InMemoryDatabase()


@asynccontextmanager
async def _sqlite() -> AsyncIterator[UnitOfWorkFactory]:
    with tempfile.TemporaryDirectory(prefix="lucine-contract-") as folder:
        async with open_sqlite(Path(folder)) as database:
            yield database


ADAPTERS: Mapping[str, AdapterOpener | None] = MappingProxyType(
    {"memory": _memory, "sqlite": _sqlite, "postgres": None}
)
"""Every adapter of the persistence ports, by the id that names it in test ids.

Postgres (None here) needs the run's database, so its opener is made by the fixture.
"""

__all__ += ["opener_for"]


def opener_for(name: str, request: pytest.FixtureRequest) -> AdapterOpener:
    """The opener of adapter ``name``; Postgres's uses this run's database."""
    opener = ADAPTERS[name]
    if opener is not None:
        return opener
    url: str = request.getfixturevalue("postgres_url")

    @asynccontextmanager
    async def _postgres() -> AsyncIterator[UnitOfWorkFactory]:
        async with open_postgres(url) as database:
            yield database

    return _postgres


@pytest.fixture(params=list(ADAPTERS))
def adapter(request: pytest.FixtureRequest) -> AdapterOpener:
    """How to open a fresh, empty database of one adapter (for tests needing several)."""
    return opener_for(request.param, request)


@pytest.fixture
async def uow_factory(adapter: AdapterOpener) -> AsyncIterator[UnitOfWorkFactory]:
    """A fresh, empty database of one adapter, as its unit-of-work factory."""
    async with adapter() as factory:
        yield factory
