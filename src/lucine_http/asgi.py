"""The ASGI entry point for servers: ``uvicorn --factory lucine_http.asgi:app_from_env``."""

from __future__ import annotations

import os

from litestar import Litestar

from lucine_adapters.bootstrap import bootstrap, close
from lucine_adapters.jobs import jobs_enabled
from lucine_adapters.settings import Settings
from lucine_http.app import create_app
from lucine_http.config import HttpConfig
from lucine_http.observability import configure_logging

__all__ = ["app_from_env"]


def app_from_env() -> Litestar:
    """Build the app from the environment (each worker process calls this once)."""
    configure_logging()
    services = bootstrap(Settings.from_env())
    app = create_app(services, HttpConfig.from_env(), background=jobs_enabled(os.environ))

    async def release() -> None:
        await close(services)

    app.on_shutdown.append(release)
    return app
