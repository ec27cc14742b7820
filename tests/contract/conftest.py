"""The adapters every contract suite runs against, and the fixture that opens them.

Each entry of ``ADAPTERS`` opens one empty database for one test and closes it after,
so an adapter that needs asynchronous setup and teardown (a temporary SQLite file, a
Postgres schema) is added here as one more entry and runs every suite unchanged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from types import MappingProxyType

import pytest

from lucine_adapters.memory import InMemoryDatabase
from lucine_core.ports import UnitOfWorkFactory

__all__ = ["ADAPTERS", "AdapterOpener"]

AdapterOpener = Callable[[], AbstractAsyncContextManager[UnitOfWorkFactory]]
"""Opens an empty database and yields its unit-of-work factory; cleans up on exit."""


@asynccontextmanager
async def _memory() -> AsyncIterator[UnitOfWorkFactory]:
    yield InMemoryDatabase()


ADAPTERS: Mapping[str, AdapterOpener] = MappingProxyType({"memory": _memory})
"""Every adapter of the persistence ports, by the id that names it in test ids."""


@pytest.fixture(params=list(ADAPTERS))
def adapter(request: pytest.FixtureRequest) -> AdapterOpener:
    """How to open a fresh, empty database of one adapter (for tests needing several)."""
    name: str = request.param
    return ADAPTERS[name]


@pytest.fixture
async def uow_factory(adapter: AdapterOpener) -> AsyncIterator[UnitOfWorkFactory]:
    """A fresh, empty database of one adapter, as its unit-of-work factory."""
    async with adapter() as factory:
        yield factory
