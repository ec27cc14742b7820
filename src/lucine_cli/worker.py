"""`lucine worker`: the background jobs alone, for deployments that keep them off the web."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer

from lucine_adapters.jobs import BackgroundJobs
from lucine_adapters.sql import migrate
from lucine_cli.common import database_services, failed, load_settings
from lucine_core.errors import LucineError

__all__ = ["worker"]


async def _work(interval: float, *, once: bool) -> int:
    settings = load_settings()
    async with database_services(settings) as services:
        jobs = BackgroundJobs(services, interval=interval)
        if once:
            await jobs.run_once()
            return jobs.runs
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        typer.echo(
            f"lucine worker: jobs every {interval:g} s on "
            f"{migrate.public_url(settings.resolved_database_url)} (stop with SIGTERM or Ctrl-C)"
        )
        await jobs.run_until(stop)
        return jobs.runs


def worker(
    interval: Annotated[
        float, typer.Option(help="Seconds between two runs of the jobs.", min=0.05, max=3600)
    ] = 15.0,
    once: Annotated[bool, typer.Option("--once", help="Run the jobs once, then exit.")] = False,
) -> None:
    """Run the background jobs (timeouts, SLA alerts, auto-assignment, retention purge) alone.

    Any number of workers (and `lucine serve` processes) may run them on one Postgres at
    once: each due item is handled exactly once. Stops after the run in progress on SIGTERM.
    """
    try:
        runs = asyncio.run(_work(interval, once=once))
    except LucineError as error:
        failed(error)
    typer.echo(f"lucine worker: stopped after {runs} run{'s' if runs != 1 else ''}")
