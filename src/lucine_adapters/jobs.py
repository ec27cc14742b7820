"""Background jobs: the sweep (timeouts, SLA alerts, auto-assignment) and the retention purge.

They run inside `lucine serve` (every worker) or alone in `lucine worker` processes. Safe
with any number at once: each session is swept in its own locked, versioned unit of
work, so two processes sweeping together change nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from datetime import datetime

import structlog

from lucine_core.errors import LucineError
from lucine_core.services import Services
from lucine_core.services.privacy import purge_expired
from lucine_core.services.sweep import sweep

__all__ = ["JOBS_VARIABLE", "BackgroundJobs", "jobs_enabled"]

# `lucine serve --no-jobs` tells its worker processes through the environment.
JOBS_VARIABLE = "LUCINE_SERVE_JOBS"


def jobs_enabled(environ: Mapping[str, str]) -> bool:
    """Whether a server process runs the background jobs (yes unless told otherwise)."""
    return environ.get(JOBS_VARIABLE, "true").strip().lower() not in {"false", "0", "no", "off"}


_log = structlog.get_logger("lucine.jobs")


class BackgroundJobs:
    """Runs the sweep every ``interval`` seconds and the purge every ``purge_every`` sweeps."""

    def __init__(
        self, services: Services, *, interval: float = 15.0, purge_every: int = 240
    ) -> None:
        self._services = services
        self._interval = interval
        self._purge_every = purge_every
        self._task: asyncio.Task[None] | None = None
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
        if self.runs % self._purge_every == 0:
            await purge_expired(self._services)
        self.runs += 1
        self.last_run = self._services.clock.now()
        self.last_error = None
        if report.ended or report.idle or report.sla_breaches:
            _log.info("sweep", idle=report.idle, ended=report.ended, breaches=report.sla_breaches)

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
