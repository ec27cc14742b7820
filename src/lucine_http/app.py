"""The Litestar application: ``create_app(services, config)``."""

from __future__ import annotations

import attrs
from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin

from lucine_adapters.jobs import BackgroundJobs
from lucine_adapters.readiness import Readiness
from lucine_core.services import Services
from lucine_http.config import HttpConfig
from lucine_http.deps import App
from lucine_http.errors import exception_handlers
from lucine_http.headers import security_headers
from lucine_http.observability import Metrics, RequestLog, TimedResponder, metrics_route
from lucine_http.openapi import document_errors
from lucine_http.routes import (
    admin,
    analytics,
    assets,
    chat,
    dashboard,
    health,
    kb,
    management,
    operators,
    stream,
    tickets,
)

__all__ = ["create_app"]


def create_app(
    services: Services, config: HttpConfig | None = None, *, background: bool = False
) -> Litestar:
    """The HTTP app over ``services``; nothing connects until the first request.

    With ``background`` the sweep and purge run in this process while it serves.
    """
    config = config or HttpConfig()
    metrics = Metrics()
    services = attrs.evolve(services, responder=TimedResponder(services.responder, metrics))
    app_state = App(services=services, config=config)
    jobs = BackgroundJobs(services)

    def provide_app() -> App:
        return app_state

    cors = (
        CORSConfig(
            allow_origins=list(config.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type"],
            max_age=600,
        )
        if config.cors_origins
        else None
    )
    app = Litestar(
        route_handlers=[
            chat.router,
            stream.router,
            operators.router,
            management.router,
            tickets.router,
            analytics.router,
            admin.router,
            kb.router,
            dashboard.router,
            health.router,
            assets.router,
            metrics_route,
        ],
        dependencies={"app": Provide(provide_app, sync_to_thread=False)},
        exception_handlers=exception_handlers,
        middleware=[DefineMiddleware(RequestLog, metrics=metrics)],
        before_send=[security_headers],
        # Logging is configured by whoever runs the app (configure_logging for the server);
        # Litestar's own config would replace the JSON handler with a plain-text one.
        logging_config=None,
        state=State({"metrics": metrics, "jobs": jobs, "readiness": Readiness(services, jobs)}),
        on_startup=[jobs.start] if background else [],
        on_shutdown=[jobs.stop],
        cors_config=cors,
        request_max_body_size=config.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="Lucine",
            version="0.1.0",
            path="/api/docs",
            render_plugins=[ScalarRenderPlugin()],
        ),
        debug=False,
    )
    document_errors(app)
    return app
