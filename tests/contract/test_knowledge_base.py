"""The KnowledgeBase port's contract, run against every adapter in ``ADAPTERS``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import pytest

from lucine_adapters.kb import Bm25KnowledgeBase
from lucine_adapters.kb.embedding import BundledEmbedder
from lucine_adapters.kb.hybrid import HybridKnowledgeBase
from lucine_adapters.kb.remote import OpenAiEmbedder
from lucine_adapters.sql.database import SqlDatabase
from lucine_adapters.sql.kb import SqlKnowledgeBase
from lucine_core.enums import Language
from lucine_core.errors import NotFoundError, ValidationError
from lucine_core.kb import KnowledgeBaseItem
from lucine_core.ports import KnowledgeBase
from tests.contract.conftest import opener_for
from tests.fake_embeddings import fake_embeddings

Factory = Callable[[Sequence[KnowledgeBaseItem]], Awaitable[KnowledgeBase]]

# The in-memory indexes (lexical; hybrid on the bundled encoder; hybrid on an embeddings
# server), and the SQL-stored knowledge base on each database with the bundled encoder
# (its search index reloaded on every call, as a second worker would see it after an
# edit), and without an encoder.
ADAPTERS = ("bm25", "hybrid", "hybrid-remote", "sqlite", "sqlite-lexical", "postgres")

TINY = (
    KnowledgeBaseItem(
        id="parcheggio",
        question="Dove si parcheggia?",
        answer="Al parcheggio P1, a 300 metri dall'ingresso.",
        keywords=("parcheggio", "auto", "macchina"),
    ),
    KnowledgeBaseItem(
        id="orari",
        question="A che ora aprite?",
        answer="Tutti i giorni dalle 17:30 alle 23:00.",
        keywords=("orario", "apertura", "chiusura"),
    ),
    KnowledgeBaseItem(
        id="cani",
        question="Posso portare il cane?",
        answer="Sì, al guinzaglio.",
        keywords=("cane", "animali", "guinzaglio"),
    ),
    KnowledgeBaseItem(
        id="en-hours",
        question="What are the opening hours?",
        answer="Every day from 5:30 pm to 11 pm.",
        keywords=("open", "close", "time"),
        language=Language.EN,
    ),
)


@pytest.fixture(params=ADAPTERS)
async def make_kb(request: pytest.FixtureRequest) -> AsyncIterator[Factory]:
    """Makes one knowledge base holding the given items (once per test)."""
    if request.param == "bm25":

        async def in_memory(items: Sequence[KnowledgeBaseItem]) -> KnowledgeBase:
            return Bm25KnowledgeBase(items)

        yield in_memory
        return
    if request.param == "hybrid":

        async def hybrid(items: Sequence[KnowledgeBaseItem]) -> KnowledgeBase:
            return HybridKnowledgeBase(BundledEmbedder(), items)

        yield hybrid
        return
    if request.param == "hybrid-remote":
        with fake_embeddings() as server:

            async def remote(items: Sequence[KnowledgeBaseItem]) -> KnowledgeBase:
                embedder = OpenAiEmbedder("fake", base_url=server.url, api_key="x")
                return HybridKnowledgeBase(embedder, items)

            yield remote
        return
    lexical = request.param.endswith("-lexical")
    async with opener_for(request.param.removesuffix("-lexical"), request)() as database:
        assert isinstance(database, SqlDatabase)
        engine = database.engine

        async def stored(items: Sequence[KnowledgeBaseItem]) -> KnowledgeBase:
            embedder = None if lexical else BundledEmbedder()
            return SqlKnowledgeBase(engine, items, embedder=embedder, refresh_seconds=0)

        yield stored


@pytest.fixture
async def kb(make_kb: Factory) -> KnowledgeBase:
    return await make_kb(TINY)


def _item(item_id: str, question: str, *keywords: str) -> KnowledgeBaseItem:
    return KnowledgeBaseItem(id=item_id, question=question, answer="…", keywords=keywords)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("dove si parcheggia la macchina?", "parcheggio"),
        ("orari di apertura?", "orari"),
        ("cani al guinzaglio?", "cani"),
        ("when do you open?", "en-hours"),
    ],
)
async def test_search_ranks_the_answering_item_first(
    kb: KnowledgeBase, query: str, expected: str
) -> None:
    """The item whose words the question uses comes first, with a confident score."""
    hits = await kb.search(query)
    assert hits[0].item.id == expected
    assert hits[0].score >= 0.5


async def test_search_scores_are_confidences_best_first(kb: KnowledgeBase) -> None:
    """Scores lie in [0, 1], never increase down the list, and ``limit`` caps its length."""
    for limit in (1, 2, 10):
        hits = await kb.search("orario apertura parcheggio cane", limit=limit)
        scores = [hit.score for hit in hits]
        assert 1 <= len(hits) <= limit
        assert all(0.0 <= score <= 1.0 for score in scores)
        assert scores == sorted(scores, reverse=True)
        assert len({hit.item.id for hit in hits}) == len(hits)


async def test_unrelated_question_is_not_confident(kb: KnowledgeBase) -> None:
    """A question about something else finds nothing or scores well below 0.5."""
    hits = await kb.search("qual è la capitale della Francia?")
    assert all(hit.score < 0.5 for hit in hits)


@pytest.mark.parametrize("query", ["", "   ", "?!"])
async def test_empty_query_returns_nothing(kb: KnowledgeBase, query: str) -> None:
    """An empty or punctuation-only query returns an empty sequence rather than raising."""
    assert list(await kb.search(query)) == []


async def test_upsert_makes_a_new_item_findable(kb: KnowledgeBase) -> None:
    """An upserted item can be got, is listed and is the top hit for its own words."""
    raft = _item("zattera", "Si può andare in zattera sul lago?", "zattera", "barca")
    await kb.upsert(raft)
    assert await kb.get("zattera") == raft
    assert raft in await kb.list_items()
    hits = await kb.search("zattera sul lago")
    assert hits[0].item == raft


async def test_upsert_replaces_the_item_with_the_same_id(kb: KnowledgeBase) -> None:
    """Upserting an existing id replaces its text: old words no longer find it, new ones do."""
    await kb.upsert(_item("cani", "Posso venire in bicicletta?", "bicicletta", "bici"))
    assert (await kb.get("cani")).question == "Posso venire in bicicletta?"
    assert len(await kb.list_items()) == len(TINY)
    assert all(
        hit.item.id != "cani" or hit.score < 0.5 for hit in await kb.search("guinzaglio cane")
    )
    assert (await kb.search("bicicletta"))[0].item.id == "cani"


async def test_delete_removes_the_item_everywhere(kb: KnowledgeBase) -> None:
    """A deleted item can no longer be got, listed or found."""
    await kb.delete("parcheggio")
    with pytest.raises(NotFoundError):
        await kb.get("parcheggio")
    assert "parcheggio" not in [item.id for item in await kb.list_items()]
    assert all(hit.item.id != "parcheggio" for hit in await kb.search("parcheggio auto", limit=9))


@pytest.mark.parametrize("operation", ["get", "delete"])
async def test_unknown_id_raises_not_found(kb: KnowledgeBase, operation: str) -> None:
    """Getting or deleting an unknown id raises NotFoundError naming the id."""
    with pytest.raises(NotFoundError) as caught:
        await getattr(kb, operation)("nessuno")
    assert caught.value.key == "nessuno"
    assert caught.value.kind == "knowledge base item"
    assert len(await kb.list_items()) == len(TINY)


async def test_replace_all_swaps_the_whole_content(kb: KnowledgeBase) -> None:
    """After replace_all only the new items exist and are searchable."""
    raft = _item("zattera", "Si può andare in zattera?", "zattera")
    await kb.replace_all([raft])
    assert list(await kb.list_items()) == [raft]
    assert all(hit.score < 0.5 for hit in await kb.search("parcheggio"))
    assert (await kb.search("zattera"))[0].item == raft


async def test_replace_all_with_duplicate_ids_changes_nothing(kb: KnowledgeBase) -> None:
    """Duplicate ids raise ValidationError on the id field and keep the old content intact."""
    before = list(await kb.list_items())
    with pytest.raises(ValidationError) as caught:
        await kb.replace_all([_item("a", "Uno?"), _item("b", "Due?"), _item("a", "Tre?")])
    assert caught.value.field == "id"
    assert list(await kb.list_items()) == before
    assert (await kb.search("dove si parcheggia la macchina?"))[0].item.id == "parcheggio"


async def test_list_items_is_ordered_by_id(make_kb: Factory) -> None:
    """Items are listed by id whatever order they were added in."""
    kb = await make_kb([_item("c", "C?"), _item("a", "A?")])
    await kb.upsert(_item("b", "B?"))
    assert [item.id for item in await kb.list_items()] == ["a", "b", "c"]


async def test_an_empty_knowledge_base_finds_nothing(make_kb: Factory) -> None:
    """With no items, search returns nothing, listing is empty and get raises."""
    kb = await make_kb([])
    assert list(await kb.search("orari")) == []
    assert list(await kb.list_items()) == []
    with pytest.raises(NotFoundError):
        await kb.get("orari")
