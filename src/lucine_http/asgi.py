"""The ASGI entry point for servers: ``uvicorn --factory lucine_http.asgi:app_from_env``."""

from __future__ import annotations

import os
import time

import structlog
from litestar import Litestar

from lucine_adapters.bootstrap import bootstrap, close
from lucine_adapters.jobs import jobs_enabled
from lucine_adapters.settings import Settings
from lucine_core.errors import LucineError
from lucine_core.services import Services
from lucine_http.app import create_app
from lucine_http.config import HttpConfig
from lucine_http.observability import configure_logging

__all__ = ["app_from_env"]

_log = structlog.get_logger("lucine.server")


async def warm_up(services: Services) -> None:
    """Load the knowledge base's index and the sentence encoder before taking traffic.

    Both load on first use (about 2 s), which would otherwise be the first visitor's wait
    and, while it lasts, everyone else's. A database that is down now only postpones the
    load to the first request: /api/health says so meanwhile.
    """
    started = time.perf_counter()
    try:
        await services.kb.search("warm up", limit=1)
    except LucineError as error:
        _log.warning("warm_up_failed", error=error.message)
        return
    _log.info("warmed_up", ms=round((time.perf_counter() - started) * 1000, 1))


def app_from_env() -> Litestar:
    """Build the app from the environment (each worker process calls this once)."""
    configure_logging()
    services = bootstrap(Settings.from_env())
    app = create_app(services, HttpConfig.from_env(), background=jobs_enabled(os.environ))

    async def release() -> None:
        await close(services)

    async def warm() -> None:
        await warm_up(services)

    # First, so the background jobs do not start before it (Litestar runs these in order).
    app.on_startup.insert(0, warm)
    app.on_shutdown.append(release)
    return app
