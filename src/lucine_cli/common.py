"""What every command shares: one-line errors with exit code 2, settings, the database."""

from __future__ import annotations

import asyncio
import secrets
import sys
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any, NoReturn, TypeVar

import attrs
import typer

from lucine_adapters.bootstrap import running
from lucine_adapters.settings import Settings
from lucine_adapters.sql import migrate
from lucine_core.errors import ConcurrencyError, ExternalServiceError, LucineError, NotFoundError
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
    # Here the key is what the person typed, so it is named (the HTTP API only says what).
    message = (
        f"no {error.kind} {error.key!r}" if isinstance(error, NotFoundError) else error.message
    )
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=1 if isinstance(error, ExternalServiceError | ConcurrencyError) else 2)


def confirm(question: str, *, yes: bool, declined: str) -> None:
    """Go on if ``yes`` or the person at the terminal answers y; else exit 1 with ``declined``.

    The question goes to stderr, so a command's output stays clean for a pipe. Declined
    (or no terminal to answer), the command ends having changed nothing.
    """
    if yes:
        return
    # Not typer.confirm: click prompts through input(" "), which puts a space on stdout.
    typer.echo(f"{question} [y/N]: ", err=True, nl=False)
    try:
        answer = sys.stdin.readline()
    except KeyboardInterrupt:
        answer = ""
    if not answer.endswith("\n"):  # end of input, or Ctrl-C at the question
        typer.echo("", err=True)
    if answer.strip().lower() in {"y", "yes", "s", "si", "sì", "j", "ja"}:
        return
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
async def database_services(settings: Settings, *, writes: bool = True) -> AsyncIterator[Services]:
    """The services on the configured database.

    A command that changes something (``writes``) creates or upgrades the schema first,
    so that on a fresh data directory it works as its first step, as `lucine serve`
    does. A command that only reads creates nothing: where there is no database yet, or
    its schema is not this version's, it ends in one line saying what to run.

    The command line signs no operator tokens, so it never needs (or creates) the
    signing key file: a throwaway key stands in when none is configured.
    """
    url = settings.resolved_database_url
    if writes:
        await migrate.upgrade(url)
    else:
        await _readable(url)
    if settings.secret_key is None:
        settings = attrs.evolve(settings, secret_key=secrets.token_bytes(32))
    async with running(settings) as services:
        yield services


async def _readable(url: str) -> None:
    revision = await migrate.current(url)
    where = f"the database at {migrate.public_url(url)}"
    if revision is None:
        fail(f"{where} does not exist yet: nothing to read (`lucine db upgrade` creates it)")
    if revision != migrate.head():
        if migrate.is_known(revision):
            fail(f"{where} is at revision {revision}, behind this version: run `lucine db upgrade`")
        fail(f"{where} is at revision {revision}, newer than this version ({migrate.head()})")
