"""Background jobs: the sweep (timeouts, SLA alerts, auto-assignment) and the retention purge.

They run inside `lucine serve` (every worker) or alone in `lucine worker` processes. Safe
with any number at once: each session is swept in its own locked, versioned unit of
work, so two processes sweeping together change nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Mapping
from datetime import datetime

import attrs
import structlog
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from lucine_adapters.sql import tables as t
from lucine_adapters.sql.database import SqlDatabase, translate_error
from lucine_core.errors import LucineError
from lucine_core.services import Services
from lucine_core.services.privacy import purge_expired
from lucine_core.services.sweep import sweep

__all__ = ["JOBS_VARIABLE", "BackgroundJobs", "JobRun", "jobs_enabled"]

# `lucine serve --no-jobs` tells its worker processes through the environment.
JOBS_VARIABLE = "LUCINE_SERVE_JOBS"


def jobs_enabled(environ: Mapping[str, str]) -> bool:
    """Whether a server process runs the background jobs (yes unless told otherwise)."""
    return environ.get(JOBS_VARIABLE, "true").strip().lower() not in {"false", "0", "no", "off"}


_log = structlog.get_logger("lucine.jobs")


@attrs.frozen
class JobRun:
    """The last successful run of one job, by whichever process ran it."""

    name: str
    finished_at: datetime
    runner: str


class _MemoryLedger:
    """Job runs of this process only (no database: one process)."""

    def __init__(self) -> None:
        self._runs: dict[str, JobRun] = {}

    async def record(self, run: JobRun) -> None:
        self._runs[run.name] = run

    async def latest(self) -> dict[str, JobRun]:
        return dict(self._runs)


class _SqlLedger:
    """Job runs in ``job_runs``: every process's, so /api/health shows a worker's too."""

    def __init__(self, database: SqlDatabase) -> None:
        self._engine = database.engine
        self._insert = postgresql.insert if database.dialect == "postgresql" else sqlite.insert

    async def record(self, run: JobRun) -> None:
        key = [t.job_runs.c.name, t.job_runs.c.runner]
        upsert = (
            self._insert(t.job_runs)
            .values(name=run.name, runner=run.runner, finished_at=run.finished_at)
            .on_conflict_do_update(index_elements=key, set_={"finished_at": run.finished_at})
        )
        try:
            async with self._engine.begin() as conn:
                await conn.execute(upsert)
        except DBAPIError as error:
            raise translate_error(error) from error

    async def latest(self) -> dict[str, JobRun]:
        query = select(t.job_runs).order_by(t.job_runs.c.finished_at)
        try:
            async with self._engine.connect() as conn:
                rows = (await conn.execute(query)).mappings().all()
        except DBAPIError as error:
            raise translate_error(error) from error
        return {
            r["name"]: JobRun(name=r["name"], finished_at=r["finished_at"], runner=r["runner"])
            for r in rows  # in time order: the newest run of each job wins
        }


class BackgroundJobs:
    """Runs the sweep every ``interval`` seconds and the purge every ``purge_every`` sweeps."""

    def __init__(
        self, services: Services, *, interval: float = 15.0, purge_every: int = 240
    ) -> None:
        self._services = services
        self._interval = interval
        self._purge_every = purge_every
        self._task: asyncio.Task[None] | None = None
        self._ledger = (
            _SqlLedger(services.uow) if isinstance(services.uow, SqlDatabase) else _MemoryLedger()
        )
        self._runner = f"{socket.gethostname()}:{os.getpid()}"
        self.runs = 0
        self.last_run: datetime | None = None
        self.last_error: str | None = None

    @property
    def state(self) -> str:
        """``running``, ``failing`` or ``stopped``, for /api/health."""
        if self._task is None or self._task.done():
            return "stopped"
        return "failing" if self.last_error else "running"

    async def start(self) -> None:
        """Start the loop (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._loop(), name="lucine-background-jobs")

    async def stop(self) -> None:
        """Stop the loop and wait for it."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run_once(self) -> None:
        """One sweep (and, every ``purge_every`` runs, one purge)."""
        report = await sweep(self._services)
        await self._done("sweep")
        if self.runs % self._purge_every == 0:
            await purge_expired(self._services)
            await self._done("purge")
        self.runs += 1
        self.last_run = self._services.clock.now()
        self.last_error = None
        if report.ended or report.idle or report.sla_breaches:
            _log.info("sweep", idle=report.idle, ended=report.ended, breaches=report.sla_breaches)

    async def _done(self, name: str) -> None:
        now = self._services.clock.now()
        await self._ledger.record(JobRun(name=name, finished_at=now, runner=self._runner))

    async def status(self) -> dict[str, dict[str, object]]:
        """Each job's last successful run by any process, and how long ago (for /api/health).

        Raises:
            ExternalServiceError: the database does not answer.
        """
        now = self._services.clock.now()
        return {
            run.name: {
                "lastRunAt": run.finished_at.isoformat(),
                "secondsAgo": round((now - run.finished_at).total_seconds(), 1),
                "runner": run.runner,
            }
            for run in (await self._ledger.latest()).values()
        }

    async def run_until(self, stop: asyncio.Event) -> None:
        """Run every ``interval`` seconds until ``stop`` is set (a run in progress finishes)."""
        while not stop.is_set():
            try:
                await self.run_once()
            except (LucineError, OSError) as error:
                self.last_error = type(error).__name__
                _log.warning("background job failed", error=self.last_error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._interval)

    async def _loop(self) -> None:
        await self.run_until(asyncio.Event())
