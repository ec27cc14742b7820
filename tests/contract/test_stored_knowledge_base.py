"""The SQL-stored knowledge base across workers: seeding once, edits reaching every worker."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator

import attrs
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from lucine_adapters.kb.embedding import BundledEmbedder
from lucine_adapters.kb.remote import OpenAiEmbedder
from lucine_adapters.sql import tables as t
from lucine_adapters.sql.database import SqlDatabase
from lucine_adapters.sql.kb import SqlKnowledgeBase
from lucine_core.kb import KnowledgeBaseItem
from tests.contract.conftest import opener_for
from tests.fake_embeddings import Reply, fake_embeddings

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


async def _vector_rows(engine: AsyncEngine) -> list[tuple[str, str, str]]:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(t.kb_vectors))).all()
    return sorted((row.item_id, row.field, row.model) for row in rows)


async def test_item_vectors_are_stored_with_the_items_and_reused_by_other_workers(
    engine: AsyncEngine,
) -> None:
    """The writer stores each field's vector; a worker starting later encodes only queries."""
    with fake_embeddings() as server:
        encoder = OpenAiEmbedder("fake", base_url=server.url, api_key="x")
        a = SqlKnowledgeBase(engine, SEED, embedder=encoder, refresh_seconds=0)
        await a.list_items()  # seeds, then encodes the seeded items once
        await a.upsert(attrs.evolve(RAFT, keywords=("zattera", "lago")))
        stored = await _vector_rows(engine)
        assert [(i, f) for i, f, _ in stored] == [
            ("cani", "answer"),
            ("cani", "question"),
            ("orari", "answer"),
            ("orari", "question"),
            ("zattera", "answer"),
            ("zattera", "keywords"),
            ("zattera", "question"),
        ]
        assert {model for _, _, model in stored} == {"openai:fake"}
        before = len(server.requests)
        b = SqlKnowledgeBase(engine, SEED, embedder=encoder, refresh_seconds=0)
        hits = await b.search("andiamo in zattera sul lago")
        assert hits[0].item.id == "zattera"
        assert [len(r["input"]) for r in server.requests[before:]] == [1]  # the query only


async def test_an_edited_item_gets_fresh_vectors_and_a_deleted_one_loses_them(
    engine: AsyncEngine,
) -> None:
    """Upserting new text replaces the item's vectors; deleting removes them."""
    kb = SqlKnowledgeBase(engine, SEED, embedder=BundledEmbedder(), refresh_seconds=0)
    await kb.list_items()
    await kb.upsert(attrs.evolve(SEED[1], question="Posso venire in bicicletta?"))
    assert (await kb.search("posso venire in bici?"))[0].item.id == "cani"
    async with engine.connect() as conn:
        digests = dict(
            (
                await conn.execute(
                    select(t.kb_vectors.c.field, t.kb_vectors.c.digest).where(
                        t.kb_vectors.c.item_id == "cani"
                    )
                )
            ).all()
        )
    assert digests["question"] == hashlib.sha256(b"Posso venire in bicicletta?").hexdigest()
    await kb.delete("cani")
    assert all(item_id != "cani" for item_id, _, _ in await _vector_rows(engine))


async def test_items_stored_without_vectors_are_encoded_once_by_the_first_worker(
    engine: AsyncEngine,
) -> None:
    """Items written without an encoder (an older version) get vectors on the next load."""
    lexical = SqlKnowledgeBase(engine, SEED, refresh_seconds=0)
    await lexical.upsert(RAFT)
    assert await _vector_rows(engine) == []
    hybrid = SqlKnowledgeBase(engine, SEED, embedder=BundledEmbedder(), refresh_seconds=0)
    assert (await hybrid.search("si può andare in zattera?"))[0].item.id == "zattera"
    assert len(await _vector_rows(engine)) == 6  # question and answer of three items


async def test_a_failing_embeddings_server_still_gets_lexical_answers(engine: AsyncEngine) -> None:
    """With the server down, edits are stored (without vectors) and search ranks by BM25."""
    with fake_embeddings() as server:
        encoder = OpenAiEmbedder("fake", base_url=server.url, api_key="x", max_retries=0)
        kb = SqlKnowledgeBase(engine, SEED, embedder=encoder, refresh_seconds=0)
        server.then(*[Reply(status=500)] * 10)
        await kb.upsert(RAFT)
        hits = await kb.search("zattera sul lago")
        assert hits[0].item.id == "zattera"
        assert await _vector_rows(engine) == []
