"""`lucine serve` and `lucine operator ...`: run the server, manage operator accounts."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Annotated

import typer

from lucine_adapters.bootstrap import running
from lucine_adapters.jobs import JOBS_VARIABLE
from lucine_adapters.settings import Settings
from lucine_adapters.sql import migrate
from lucine_cli.common import fail, failed, load_settings
from lucine_cli.operators import ask_password, create_account
from lucine_core.errors import LucineError
from lucine_core.services.operators import list_operators

__all__ = ["serve"]


async def _operator_count(settings: Settings, *, migrate_first: bool) -> int:
    url = settings.resolved_database_url
    if migrate_first:
        await migrate.upgrade(url)
    elif await migrate.current(url) != migrate.head():
        fail("the database schema is not current: run `lucine db upgrade` (or drop --no-migrate)")
    async with running(settings) as services:
        return len(await list_operators(services))


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1, max=64)] = 1,
    migrate_first: Annotated[
        bool, typer.Option("--migrate/--no-migrate", help="Create or upgrade the schema first.")
    ] = True,
    jobs: Annotated[
        bool,
        typer.Option(
            "--jobs/--no-jobs",
            help="Run the background jobs in every worker (--no-jobs: `lucine worker` does).",
        ),
    ] = True,
) -> None:
    """Run Lucine: the API, background sweeps, and (on first run) a fresh SQLite database."""
    import uvicorn  # noqa: PLC0415 - only the server needs it

    settings = load_settings()
    url = settings.resolved_database_url
    if workers > 1 and url.startswith("sqlite") and not settings.redis_url:
        # Each worker would hold its own realtime notices and rate limits: operators'
        # replies would reach only the visitors connected to the same worker.
        fail(
            "--workers above 1 needs Postgres (DATABASE_URL) or Redis (REDIS_URL);"
            " on SQLite run one worker"
        )
    try:
        operators = asyncio.run(_operator_count(settings, migrate_first=migrate_first))
    except LucineError as error:
        failed(error)
    base = os.environ.get("LUCINE_PUBLIC_URL", f"http://{host}:{port}").rstrip("/")
    typer.echo(f"Lucine on {base}  (database: {migrate.public_url(url)})")
    typer.echo(f"  demo shop:  {base}/demo")
    typer.echo(f"  dashboard:  {base}/dashboard")
    typer.echo(f"  API docs:   {base}/api/docs")
    typer.echo(f"  health:     {base}/api/health")
    if operators == 0 and sys.stdin.isatty():
        _first_admin(settings)
    elif operators == 0:
        typer.echo("  No operator account yet: create the first admin with")
        typer.echo("    lucine operator create --admin --username admin")
    os.environ.setdefault("LUCINE_PUBLIC_URL", base)
    os.environ[JOBS_VARIABLE] = "true" if jobs else "false"
    uvicorn.run(
        "lucine_http.asgi:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
    )


def _first_admin(settings: Settings) -> None:
    """Ask at the terminal for the first admin's name and password, and create them."""
    typer.echo("\nNo operator account yet: create the first admin for the dashboard.")
    while True:
        username = typer.prompt("Username", default="admin")
        password = ask_password()
        if password is None:
            typer.echo("  The passwords differ; try again.")
            continue
        try:
            created = asyncio.run(create_account(settings, username, password, admin=True))
        except LucineError as error:
            typer.echo(f"  {error.message}; try again.")
            continue
        typer.echo(f"Created admin {created}: log in at the dashboard.\n")
        return
