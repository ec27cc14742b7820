"""What /api/health reports of the database: it answers in time, and its schema is current.

A load balancer sends traffic only to a ready process. Ready means the database answered a
real query within HEALTH_TIMEOUT_SECONDS (a frozen server or a dropped route would
otherwise hold the probe for minutes) and its schema is the one this version was written
for: after `lucine db upgrade` of a newer release the old processes stop being ready, and a
database left behind an upgrade is named rather than failing request by request.
"""

from __future__ import annotations

import asyncio
from typing import Final

import attrs
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from lucine_adapters.jobs import BackgroundJobs
from lucine_adapters.sql import migrate
from lucine_adapters.sql.database import SqlDatabase
from lucine_core.errors import LucineError
from lucine_core.services import Services

__all__ = ["HEALTH_TIMEOUT_SECONDS", "HealthReport", "Readiness"]

HEALTH_TIMEOUT_SECONDS: Final = 3.0


@attrs.frozen
class HealthReport:
    """``database``: ok | unavailable; ``schema``: current | behind | ahead | unknown.

    ``jobs``: each background job's last run by any process (empty when unknown).
    """

    database: str
    schema: str
    revision: str | None
    expected: str | None
    jobs: dict[str, dict[str, object]] = attrs.field(factory=dict)

    @property
    def ready(self) -> bool:
        """Whether this process should take traffic."""
        return self.database == "ok" and self.schema == "current"


def _retrieve(probe: asyncio.Task[HealthReport]) -> None:
    """Mark a probe's failure as seen (it is reported as "unavailable", not logged)."""
    if not probe.cancelled():
        probe.exception()


def _revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


class Readiness:
    """Checks the database of ``services`` (in memory: always current) and reads ``jobs``."""

    def __init__(
        self,
        services: Services,
        jobs: BackgroundJobs,
        *,
        timeout: float = HEALTH_TIMEOUT_SECONDS,
    ) -> None:
        self._services = services
        self._jobs = jobs
        self._timeout = timeout
        self._database = services.uow if isinstance(services.uow, SqlDatabase) else None
        self._head = migrate.head() if self._database is not None else None
        self._pending: asyncio.Task[HealthReport] | None = None

    async def check(self) -> HealthReport:
        """A query through the stores, the schema's revision and the job runs, bounded.

        The probe runs as a task of its own that is left behind on a timeout: cancelling
        it would wait for the driver's cleanup on the same silent socket. While one probe
        is stuck, later checks wait on it rather than starting more.
        """
        if self._pending is None or self._pending.done():
            self._pending = asyncio.create_task(self._probe(), name="lucine-health-probe")
            self._pending.add_done_callback(_retrieve)
        probe = self._pending
        done, _ = await asyncio.wait({probe}, timeout=self._timeout)
        if not done or isinstance(probe.exception(), (LucineError, OSError, DBAPIError)):
            return HealthReport("unavailable", "unknown", None, self._head)
        return probe.result()  # raises any other failure: a bug, not an outage

    async def _probe(self) -> HealthReport:
        async with self._services.uow() as uow:
            await uow.sessions.count_by_status()
        revision = await self._schema_revision()
        jobs = await self._jobs.status()
        return HealthReport("ok", self._schema(revision), revision, self._head, jobs)

    async def _schema_revision(self) -> str | None:
        if self._database is None:
            return None
        async with self._database.engine.connect() as connection:
            return await connection.run_sync(_revision)

    def _schema(self, revision: str | None) -> str:
        if self._database is None or revision == self._head:
            return "current"
        if revision is not None and not migrate.is_known(revision):
            return "ahead"  # a newer release upgraded it
        return "behind"
