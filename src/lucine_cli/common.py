"""What every command shares: one-line errors with exit code 2, settings, the database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any, NoReturn, TypeVar

import typer

from lucine_adapters.bootstrap import running
from lucine_adapters.settings import Settings
from lucine_adapters.sql import migrate
from lucine_core.errors import ConcurrencyError, ExternalServiceError, LucineError
from lucine_core.services import Services

__all__ = ["confirm", "database_services", "fail", "failed", "load_settings", "run"]

T = TypeVar("T")


def fail(message: str) -> NoReturn:
    """Print one line to stderr and exit with code 2 (bad input, nothing changed)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


def failed(error: LucineError) -> NoReturn:
    """Print the error in one line and exit: 1 when the operation could not be done now.

    A database (or another service) down, or still busy after the retries, is exit 1:
    the same command may work later. Anything else the command was given wrong (bad
    input, an unknown account or chat, a conflict, a permission) is exit 2. Either way
    nothing was changed.
    """
    typer.echo(f"error: {error.message}", err=True)
    raise typer.Exit(code=1 if isinstance(error, ExternalServiceError | ConcurrencyError) else 2)


def confirm(question: str, *, yes: bool, declined: str) -> None:
    """Go on if ``yes`` or the person at the terminal answers y; else exit 1 with ``declined``.

    The question goes to stderr, so a command's output stays clean for a pipe. Declined
    (or no terminal to answer), the command ends having changed nothing.
    """
    if yes:
        return
    try:
        if typer.confirm(question, default=False, err=True):
            return
    except typer.Abort:  # end of input, or Ctrl-C at the question
        typer.echo("", err=True)
    typer.echo(f"error: {declined}", err=True)
    raise typer.Exit(code=1)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's async work; a Lucine error ends the command by `failed`."""
    try:
        return asyncio.run(coro)
    except LucineError as error:
        failed(error)


def load_settings() -> Settings:
    """The settings from the environment (and LUCINE_CONFIG), or exit 2 naming the bad one."""
    try:
        return Settings.from_env()
    except LucineError as error:
        fail(error.message)


@asynccontextmanager
async def database_services(settings: Settings) -> AsyncIterator[Services]:
    """The services on the configured database, its schema created or upgraded first.

    Every command that reads or writes the database comes through here, so that on a
    fresh data directory it works as its first step, as `lucine serve` does.
    """
    await migrate.upgrade(settings.resolved_database_url)
    async with running(settings) as services:
        yield services
