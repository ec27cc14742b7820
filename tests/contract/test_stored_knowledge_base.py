"""The SQL-stored knowledge base across workers: seeding once, edits reaching every worker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from lucine_adapters.sql.database import SqlDatabase
from lucine_adapters.sql.kb import SqlKnowledgeBase
from lucine_core.kb import KnowledgeBaseItem
from tests.contract.conftest import opener_for

SEED = (
    KnowledgeBaseItem(id="orari", question="A che ora aprite?", answer="Alle 17:30."),
    KnowledgeBaseItem(id="cani", question="Posso portare il cane?", answer="Sì."),
)
RAFT = KnowledgeBaseItem(id="zattera", question="Si va in zattera sul lago?", answer="No.")


class Ticker:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", "postgres"])
async def engine(request: pytest.FixtureRequest) -> AsyncIterator[AsyncEngine]:
    async with opener_for(request.param, request)() as database:
        assert isinstance(database, SqlDatabase)
        yield database.engine


async def test_an_edit_reaches_another_worker_within_the_refresh_interval(
    engine: AsyncEngine,
) -> None:
    """Worker B finds A's new item once its refresh interval has passed, not before."""
    ticker = Ticker()
    a = SqlKnowledgeBase(engine, SEED, refresh_seconds=1.0, monotonic=ticker)
    b = SqlKnowledgeBase(engine, SEED, refresh_seconds=1.0, monotonic=ticker)
    assert (await b.search("a che ora aprite"))[0].item.id == "orari"
    await a.upsert(RAFT)
    assert (await a.search("zattera sul lago"))[0].item == RAFT
    assert await b.get("zattera") == RAFT  # reads go to the table
    assert list(await b.search("zattera sul lago")) == []  # B's index is still the old one
    ticker.now += 1.0
    assert (await b.search("zattera sul lago"))[0].item == RAFT
    await a.delete("zattera")
    ticker.now += 1.0
    assert list(await b.search("zattera sul lago")) == []


async def test_the_seed_is_written_once_and_never_again(engine: AsyncEngine) -> None:
    """A later worker's different seed is ignored; emptying the base does not re-seed it."""
    first = SqlKnowledgeBase(engine, SEED, refresh_seconds=0)
    assert [item.id for item in await first.list_items()] == ["cani", "orari"]
    later = SqlKnowledgeBase(engine, (RAFT,), refresh_seconds=0)
    assert [item.id for item in await later.list_items()] == ["cani", "orari"]
    await first.replace_all([])
    restarted = SqlKnowledgeBase(engine, SEED, refresh_seconds=0)
    assert list(await restarted.list_items()) == []
    assert list(await restarted.search("a che ora aprite")) == []


async def test_workers_starting_together_seed_exactly_once(engine: AsyncEngine) -> None:
    """Eight workers' first searches at once: one seeds, all find the seeded items."""
    workers = [SqlKnowledgeBase(engine, SEED, refresh_seconds=0) for _ in range(8)]
    results = await asyncio.gather(*(w.search("posso portare il cane") for w in workers))
    assert all(hits[0].item.id == "cani" for hits in results)
    assert [item.id for item in await workers[0].list_items()] == ["cani", "orari"]


async def test_concurrent_edits_from_two_workers_are_all_kept(engine: AsyncEngine) -> None:
    """Forty upserts from two workers at once: every item is stored and searchable."""
    a = SqlKnowledgeBase(engine, (), refresh_seconds=0)
    b = SqlKnowledgeBase(engine, (), refresh_seconds=0)
    items = [
        KnowledgeBaseItem(id=f"item-{n}", question=f"Domanda numero {n} parola{n}?", answer="…")
        for n in range(40)
    ]
    await asyncio.gather(*((a if n % 2 else b).upsert(item) for n, item in enumerate(items)))
    assert len(await a.list_items()) == 40
    assert (await b.search("parola17"))[0].item.id == "item-17"
