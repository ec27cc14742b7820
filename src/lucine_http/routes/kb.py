"""/api/kb: the knowledge base; operators read it, try questions, see its gaps; admins edit."""

# Litestar reads handler annotations at run time: no postponed evaluation here.

from typing import Annotated

import msgspec
from litestar import Router, delete, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, QueryParameter

from lucine_core.enums import Language
from lucine_core.kb import MAX_KEYWORDS, KnowledgeBaseItem, RetrievedItem
from lucine_core.operators import Operator
from lucine_core.services.gaps import knowledge_gaps
from lucine_core.services.knowledge import (
    create_kb_item,
    delete_kb_item,
    get_kb_item,
    list_kb_items,
    try_question,
    update_kb_item,
)
from lucine_http.deps import App, current_operator
from lucine_http.schemas import Camel, GapsOut, gaps_out

__all__ = ["router"]

ItemId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Question = Annotated[str, msgspec.Meta(max_length=2000)]
Answer = Annotated[str, msgspec.Meta(max_length=20_000)]
Keyword = Annotated[str, msgspec.Meta(max_length=1000)]
Keywords = Annotated[list[Keyword], msgspec.Meta(max_length=MAX_KEYWORDS * 4)]


class KbItemOut(Camel):
    """One question/answer item."""

    id: str
    question: str
    answer: str
    keywords: list[str]
    language: Language


class KbItemIn(Camel):
    """A new item; its id is cited as a source in replies."""

    id: ItemId
    question: Question
    answer: Answer
    keywords: Keywords = msgspec.field(default_factory=list)
    language: Language = Language.IT


class KbItemEdit(Camel):
    """An item's new text (the id is in the path)."""

    question: Question
    answer: Answer
    keywords: Keywords = msgspec.field(default_factory=list)
    language: Language = Language.IT


class TryIn(Camel):
    """A question to try; the language is detected when absent."""

    question: Question
    language: Language | None = None


class HitOut(Camel):
    """An item retrieval found, with its confidence in [0, 1]."""

    id: str
    question: str
    score: float


class TrialOut(Camel):
    """What the assistant would answer to a visitor opening a chat with the question."""

    language: Language
    answer: str
    sources: list[HitOut]
    confidence: float
    retrieved: list[HitOut]
    offer_human: bool
    reasons: list[str]


def item_out(item: KnowledgeBaseItem) -> KbItemOut:
    """The wire form of an item."""
    return KbItemOut(
        id=item.id,
        question=item.question,
        answer=item.answer,
        keywords=list(item.keywords),
        language=item.language,
    )


def _hit(hit: RetrievedItem) -> HitOut:
    return HitOut(id=hit.item.id, question=hit.item.question, score=round(hit.score, 3))


@get("/", summary="Every item, or those containing the words of q")
async def list_route(
    app: NamedDependency[App],
    me: NamedDependency[Operator],
    q: Annotated[
        str, QueryParameter(description="Words every item listed contains", max_length=200)
    ] = "",
    language: Annotated[
        Language | None, QueryParameter(description="Only items in this language")
    ] = None,
) -> list[KbItemOut]:
    """Ordered by id; ``q`` matches id, question, answer and keywords, ignoring case and accents."""
    return [item_out(i) for i in await list_kb_items(app.services, query=q, language=language)]


@get("/gaps", summary="What visitors asked that the knowledge base could not answer")
async def gaps_route(
    app: NamedDependency[App],
    me: NamedDependency[Operator],
    days: Annotated[
        int, QueryParameter(ge=1, le=3650, description="How many days back, 1-3650")
    ] = 30,
    limit: Annotated[
        int, QueryParameter(ge=1, le=200, description="At most this many groups")
    ] = 20,
) -> GapsOut:
    """Questions answered with low confidence, hedged or failed, grouped by meaning.

    The largest group first (then the most recent); each with up to five examples, newest
    first, personal data masked. Asking for a human is not a gap.
    """
    return gaps_out(await knowledge_gaps(app.services, days=days, limit=limit), days)


@get("/{item_id:str}", summary="One item")
async def get_route(
    item_id: FromPath[str], app: NamedDependency[App], me: NamedDependency[Operator]
) -> KbItemOut:
    """404 when no item has that id."""
    return item_out(await get_kb_item(app.services, item_id))


@post("/", status_code=201, summary="Add an item (admins)")
async def create_route(
    data: JSONBody[KbItemIn], app: NamedDependency[App], me: NamedDependency[Operator]
) -> KbItemOut:
    """It answers visitors at once. 409 when the id is taken."""
    item = KnowledgeBaseItem(
        id=data.id,
        question=data.question,
        answer=data.answer,
        keywords=tuple(data.keywords),
        language=data.language,
    )
    return item_out(await create_kb_item(app.services, actor_id=me.id, item=item))


@put("/{item_id:str}", summary="Change an item's text (admins)")
async def update_route(
    item_id: FromPath[str],
    data: JSONBody[KbItemEdit],
    app: NamedDependency[App],
    me: NamedDependency[Operator],
) -> KbItemOut:
    """Visitors get the new answer at once. 404 when no item has that id."""
    item = KnowledgeBaseItem(
        id=item_id,
        question=data.question,
        answer=data.answer,
        keywords=tuple(data.keywords),
        language=data.language,
    )
    return item_out(await update_kb_item(app.services, actor_id=me.id, item=item))


@delete("/{item_id:str}", summary="Delete an item (admins)")
async def delete_route(
    item_id: FromPath[str], app: NamedDependency[App], me: NamedDependency[Operator]
) -> None:
    """404 when no item has that id."""
    await delete_kb_item(app.services, actor_id=me.id, item_id=item_id)


@post("/try", status_code=200, summary="What the assistant would answer to a question")
async def try_route(
    data: JSONBody[TryIn], app: NamedDependency[App], me: NamedDependency[Operator]
) -> TrialOut:
    """As in a new chat: the reply, its sources, the confidence and whether a human is offered.

    Nothing is stored.
    """
    trial = await try_question(app.services, question=data.question, language=data.language)
    cited = {hit.item.id: hit for hit in trial.retrieved}
    return TrialOut(
        language=trial.language,
        answer=trial.text,
        sources=[_hit(cited[s]) for s in trial.sources if s in cited],
        confidence=round(trial.confidence, 3),
        retrieved=[_hit(hit) for hit in trial.retrieved],
        offer_human=trial.offer_human,
        reasons=[r.value for r in trial.reasons],
    )


router = Router(
    path="/api/kb",
    route_handlers=[
        list_route,
        gaps_route,
        get_route,
        create_route,
        update_route,
        delete_route,
        try_route,
    ],
    dependencies={"me": Provide(current_operator)},
    tags=["knowledge base"],
)
