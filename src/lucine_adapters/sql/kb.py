"""The knowledge base stored in SQL and searched in memory, so edits reach every worker."""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import numpy as np
from sqlalchemy import delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from lucine_adapters.kb.bm25 import Bm25KnowledgeBase
from lucine_adapters.kb.embedding import Embedder
from lucine_adapters.kb.hybrid import HybridKnowledgeBase, ItemVectors, field_texts
from lucine_adapters.sql import tables as t
from lucine_adapters.sql.database import translate_error
from lucine_core.enums import Language
from lucine_core.errors import ExternalServiceError, NotFoundError, ValidationError
from lucine_core.kb import KnowledgeBaseItem, RetrievedItem

__all__ = ["SqlKnowledgeBase"]

_KIND = "knowledge base item"
_STATE_ID = 1


def _to_row(item: KnowledgeBaseItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "question": item.question,
        "answer": item.answer,
        "keywords": list(item.keywords),
        "language": item.language.value,
    }


def _from_row(row: Any) -> KnowledgeBaseItem:
    return KnowledgeBaseItem(
        id=row.id,
        question=row.question,
        answer=row.answer,
        keywords=tuple(row.keywords),
        language=Language(row.language),
    )


def _digest(texts: Sequence[str]) -> str:
    """SHA-256 of the texts a field's rows encode (so a changed text needs new rows)."""
    return hashlib.sha256("\n".join(texts).encode()).hexdigest()


def _vector_rows(
    items: Sequence[KnowledgeBaseItem], vectors: dict[str, ItemVectors], model: str
) -> list[dict[str, Any]]:
    rows = []
    for item in items:
        if item.id not in vectors:
            continue
        for field, texts in field_texts(item).items():
            vector = vectors[item.id].of(field)
            if vector is not None:
                rows.append(
                    {
                        "item_id": item.id,
                        "field": field,
                        "model": model,
                        "digest": _digest(texts),
                        "vector": np.asarray(vector, dtype="<f4").tobytes(),
                    }
                )
    return rows


def _stored_vectors(
    items: Sequence[KnowledgeBaseItem], rows: Sequence[Any]
) -> dict[str, ItemVectors]:
    """The stored vectors whose texts are still the items' texts, by item id."""
    by_key = {(row.item_id, row.field): row for row in rows}
    found: dict[str, ItemVectors] = {}
    for item in items:
        fields = {}
        for field, texts in field_texts(item).items():
            row = by_key.get((item.id, field))
            if row is None or row.digest != _digest(texts):
                break
            flat = np.frombuffer(row.vector, dtype="<f4").astype(np.float32)
            if not flat.size or flat.size % len(texts):
                break
            fields[field] = flat.reshape(len(texts), -1)
        else:
            found[item.id] = ItemVectors(**fields)
    return found


def _check_unique(items: Iterable[KnowledgeBaseItem]) -> None:
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise ValidationError(field="id", reason=f"{item.id!r} appears twice")
        seen.add(item.id)


class SqlKnowledgeBase:
    """The `KnowledgeBase` port: items in the ``kb_items`` table, searched in memory.

    Each process keeps a `HybridKnowledgeBase` of the stored items (a
    `Bm25KnowledgeBase` without an embedder). Item vectors live in ``kb_vectors``:
    the worker that changes an item encodes and stores them in the same transaction,
    and a worker that finds items without vectors (seeded, stored by an older
    version, or under another encoder) encodes them once and stores them. Before a search it
    reads the stored revision (at most once every ``refresh_seconds``) and reloads the
    items when another worker changed them; its own changes reload at once. ``get`` and
    ``list_items`` read the table itself.

    The first use seeds a database that never had a knowledge base with ``initial``
    (the sample or ``LUCINE_KB``); when several workers start together one seeds and
    the others find its rows. Deleting every item later does not bring the seed back.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        initial: Sequence[KnowledgeBaseItem] = (),
        *,
        embedder: Embedder | None = None,
        threshold: float | None = None,
        refresh_seconds: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        _check_unique(initial)
        self._engine = engine
        self._initial = tuple(initial)
        self._refresh_seconds = refresh_seconds
        self._monotonic = monotonic
        self._index: HybridKnowledgeBase | Bm25KnowledgeBase
        if embedder is None:
            self._index = Bm25KnowledgeBase()
        elif threshold is None:
            self._index = HybridKnowledgeBase(embedder)
        else:
            self._index = HybridKnowledgeBase(embedder, threshold=threshold)
        self._revision: int | None = None
        self._checked_at = -math.inf
        self._lock = asyncio.Lock()

    async def search(
        self, query: str, *, language: Language | None = None, limit: int = 3
    ) -> Sequence[RetrievedItem]:
        """Return up to ``limit`` items that may answer ``query``, best first."""
        await self._refresh()
        return await self._index.search(query, language=language, limit=limit)

    async def index(self) -> HybridKnowledgeBase | Bm25KnowledgeBase:
        """The in-memory index, current with the stored items (for calibration)."""
        await self._refresh()
        return self._index

    async def get(self, item_id: str) -> KnowledgeBaseItem:
        """Return one stored item.

        Raises:
            NotFoundError: no item has that id.
        """
        rows = await self._read(select(t.kb_items).where(t.kb_items.c.id == item_id))
        if not rows:
            raise NotFoundError(kind=_KIND, key=item_id)
        return _from_row(rows[0])

    async def list_items(self) -> Sequence[KnowledgeBaseItem]:
        """Return every stored item, ordered by id."""
        rows = await self._read(select(t.kb_items).order_by(t.kb_items.c.id))
        return [_from_row(row) for row in rows]

    async def upsert(self, item: KnowledgeBaseItem) -> None:
        """Add the item, or replace the item with the same id; searchable on return."""
        vectors = await self._encode([item])

        async def change(conn: AsyncConnection) -> None:
            values = _to_row(item)
            module = postgresql if conn.dialect.name == "postgresql" else sqlite
            statement = module.insert(t.kb_items).values(**values)
            fields = {k: v for k, v in values.items() if k != "id"}
            await conn.execute(statement.on_conflict_do_update(index_elements=["id"], set_=fields))
            await conn.execute(delete(t.kb_vectors).where(t.kb_vectors.c.item_id == item.id))
            await self._insert_vectors(conn, [item], vectors)

        await self._write(change)

    async def delete(self, item_id: str) -> None:
        """Remove one item.

        Raises:
            NotFoundError: no item has that id.
        """

        async def change(conn: AsyncConnection) -> None:
            result = await conn.execute(
                delete(t.kb_items).where(t.kb_items.c.id == item_id).returning(t.kb_items.c.id)
            )
            if result.first() is None:
                raise NotFoundError(kind=_KIND, key=item_id)
            await conn.execute(delete(t.kb_vectors).where(t.kb_vectors.c.item_id == item_id))

        await self._write(change)

    async def replace_all(self, items: Sequence[KnowledgeBaseItem]) -> None:
        """Replace the whole knowledge base in one transaction (an import).

        Raises:
            ValidationError: two items share an id; nothing is changed then.
        """
        _check_unique(items)
        vectors = await self._encode(items)

        async def change(conn: AsyncConnection) -> None:
            await conn.execute(delete(t.kb_items))
            await conn.execute(delete(t.kb_vectors))
            if items:
                await conn.execute(insert(t.kb_items), [_to_row(item) for item in items])
            await self._insert_vectors(conn, items, vectors)

        await self._write(change)

    @property
    def _model(self) -> str | None:
        index = self._index
        return index.embedder.model if isinstance(index, HybridKnowledgeBase) else None

    async def _encode(self, items: Sequence[KnowledgeBaseItem]) -> dict[str, ItemVectors]:
        """The vectors of items about to be written (none if the embedder fails)."""
        if not isinstance(self._index, HybridKnowledgeBase):
            return {}
        try:
            return await self._index.encode(items)
        except ExternalServiceError:
            return {}  # stored without vectors; a later load encodes them

    async def _insert_vectors(
        self,
        conn: AsyncConnection,
        items: Sequence[KnowledgeBaseItem],
        vectors: dict[str, ItemVectors],
        *,
        keep_existing: bool = False,
    ) -> None:
        model = self._model
        rows = _vector_rows(items, vectors, model) if model is not None else []
        if not rows:
            return
        if not keep_existing:
            await conn.execute(insert(t.kb_vectors), rows)
            return
        module = postgresql if conn.dialect.name == "postgresql" else sqlite
        await conn.execute(module.insert(t.kb_vectors).on_conflict_do_nothing(), rows)

    async def _read(self, statement: Any) -> Sequence[Any]:
        await self._refresh()
        try:
            async with self._engine.connect() as conn:
                return (await conn.execute(statement)).all()
        except DBAPIError as error:
            raise translate_error(error) from error

    async def _write(self, change: Callable[[AsyncConnection], Awaitable[None]]) -> None:
        try:
            async with self._engine.begin() as conn:
                await self._seed(conn)
                await change(conn)
                await conn.execute(
                    update(t.kb_state)
                    .where(t.kb_state.c.id == _STATE_ID)
                    .values(revision=t.kb_state.c.revision + 1)
                )
        except DBAPIError as error:
            raise translate_error(error) from error
        await self._refresh(force=True)

    async def _seed(self, conn: AsyncConnection) -> None:
        """Seed a database that never had a knowledge base; a no-op once it has one."""
        module = postgresql if conn.dialect.name == "postgresql" else sqlite
        claimed = await conn.execute(
            module.insert(t.kb_state)
            .values(id=_STATE_ID, revision=1)
            .on_conflict_do_nothing()
            .returning(t.kb_state.c.id)
        )
        if claimed.first() is not None and self._initial:
            await conn.execute(insert(t.kb_items), [_to_row(item) for item in self._initial])

    async def _refresh(self, *, force: bool = False) -> None:
        """Reload the search index if the stored revision moved since it was built."""
        if not force and self._monotonic() - self._checked_at < self._refresh_seconds:
            return
        async with self._lock:
            if not force and self._monotonic() - self._checked_at < self._refresh_seconds:
                return
            checked_at = self._monotonic()
            try:
                async with self._engine.begin() as conn:
                    revision = await conn.scalar(
                        select(t.kb_state.c.revision).where(t.kb_state.c.id == _STATE_ID)
                    )
                    if revision is None:
                        await self._seed(conn)
                        revision = 1
                    items = None
                    stored: Sequence[Any] = ()
                    if revision != self._revision:
                        rows = (await conn.execute(select(t.kb_items))).all()
                        items = [_from_row(row) for row in rows]
                        if self._model is not None:
                            stored = (
                                await conn.execute(
                                    select(t.kb_vectors).where(t.kb_vectors.c.model == self._model)
                                )
                            ).all()
            except DBAPIError as error:
                raise translate_error(error) from error
            if items is not None:
                await self._load(items, stored)
                self._revision = revision
            self._checked_at = checked_at

    async def _load(self, items: list[KnowledgeBaseItem], stored: Sequence[Any]) -> None:
        """Index ``items`` with their stored vectors; store the ones that had to be encoded."""
        if not isinstance(self._index, HybridKnowledgeBase):
            await self._index.replace_all(items)
            return
        fresh = await self._index.load(items, _stored_vectors(items, stored))
        if not fresh:
            return
        try:
            async with self._engine.begin() as conn:
                encoded = [item for item in items if item.id in fresh]
                ids = [item.id for item in encoded]
                await conn.execute(
                    delete(t.kb_vectors).where(
                        t.kb_vectors.c.model == self._model, t.kb_vectors.c.item_id.in_(ids)
                    )
                )
                await self._insert_vectors(conn, encoded, fresh, keep_existing=True)
        except DBAPIError:
            pass  # the vectors are in memory; another load will store them
