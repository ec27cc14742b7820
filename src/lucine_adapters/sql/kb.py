"""The knowledge base stored in SQL and searched in memory, so edits reach every worker."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from lucine_adapters.kb.bm25 import Bm25KnowledgeBase
from lucine_adapters.sql import tables as t
from lucine_adapters.sql.database import translate_error
from lucine_core.enums import Language
from lucine_core.errors import NotFoundError, ValidationError
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


def _check_unique(items: Iterable[KnowledgeBaseItem]) -> None:
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise ValidationError(field="id", reason=f"{item.id!r} appears twice")
        seen.add(item.id)


class SqlKnowledgeBase:
    """The `KnowledgeBase` port: items in the ``kb_items`` table, BM25 search in memory.

    Each process keeps a `Bm25KnowledgeBase` of the stored items. Before a search it
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
        refresh_seconds: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        _check_unique(initial)
        self._engine = engine
        self._initial = tuple(initial)
        self._refresh_seconds = refresh_seconds
        self._monotonic = monotonic
        self._index = Bm25KnowledgeBase()
        self._revision: int | None = None
        self._checked_at = -math.inf
        self._lock = asyncio.Lock()

    async def search(
        self, query: str, *, language: Language | None = None, limit: int = 3
    ) -> Sequence[RetrievedItem]:
        """Return up to ``limit`` items that may answer ``query``, best first."""
        await self._refresh()
        return self._index.search_now(query, language=language, limit=limit)

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

        async def change(conn: AsyncConnection) -> None:
            values = _to_row(item)
            module = postgresql if conn.dialect.name == "postgresql" else sqlite
            statement = module.insert(t.kb_items).values(**values)
            fields = {k: v for k, v in values.items() if k != "id"}
            await conn.execute(statement.on_conflict_do_update(index_elements=["id"], set_=fields))

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

        await self._write(change)

    async def replace_all(self, items: Sequence[KnowledgeBaseItem]) -> None:
        """Replace the whole knowledge base in one transaction (an import).

        Raises:
            ValidationError: two items share an id; nothing is changed then.
        """
        _check_unique(items)

        async def change(conn: AsyncConnection) -> None:
            await conn.execute(delete(t.kb_items))
            if items:
                await conn.execute(insert(t.kb_items), [_to_row(item) for item in items])

        await self._write(change)

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
                    if revision != self._revision:
                        rows = (await conn.execute(select(t.kb_items))).all()
                        items = [_from_row(row) for row in rows]
            except DBAPIError as error:
                raise translate_error(error) from error
            if items is not None:
                await self._index.replace_all(items)
                self._revision = revision
            self._checked_at = checked_at
