"""`lucine kb`: import and export the knowledge base stored in the database."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from lucine_adapters.bootstrap import running
from lucine_adapters.kb import dump_kb, load_kb
from lucine_adapters.sql import migrate
from lucine_cli.common import fail, load_settings
from lucine_core.errors import LucineError
from lucine_core.kb import KnowledgeBaseItem

__all__ = ["kb_app"]

kb_app = typer.Typer(
    name="kb",
    help="The knowledge base in the database (edit single items in the dashboard).",
    no_args_is_help=True,
)


async def _replace(items: list[KnowledgeBaseItem]) -> None:
    config = load_settings()
    await migrate.upgrade(config.resolved_database_url)
    async with running(config) as services:
        await services.kb.replace_all(items)


async def _items() -> list[KnowledgeBaseItem]:
    config = load_settings()
    await migrate.upgrade(config.resolved_database_url)
    async with running(config) as services:
        return list(await services.kb.list_items())


@kb_app.command("import")
def kb_import(
    file: Annotated[Path, typer.Argument(help="A .json or .csv file of items.")],
) -> None:
    """Replace the whole knowledge base with the file's items, all or nothing.

    Every worker answers from the new items within a second.
    """
    try:
        items = load_kb(file)
        asyncio.run(_replace(items))
    except LucineError as error:
        fail(error.message)
    typer.echo(f"imported {len(items)} items from {file}")


@kb_app.command("export")
def kb_export(
    output: Annotated[
        Path | None, typer.Argument(help="Where to write the JSON (standard output if absent).")
    ] = None,
) -> None:
    """Write every item as JSON that `lucine kb import` reads back unchanged."""
    try:
        text = dump_kb(asyncio.run(_items()))
    except LucineError as error:
        fail(error.message)
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        fail(f"{output}: {error.strerror}")
