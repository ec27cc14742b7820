"""Health: /api/health (503 when the database is down) and /api/health/live."""

# Litestar reads handler annotations at run time: no postponed evaluation here.

import time
from typing import Any

from litestar import Request, Response, Router, get
from litestar.di import NamedDependency

from lucine_core.errors import LucineError
from lucine_http.deps import App

__all__ = ["router"]

_STARTED = time.monotonic()
VERSION = "0.1.0"


@get("/live", summary="The process answers")
async def live() -> dict[str, str]:
    """Always ok while the process serves requests."""
    return {"status": "ok"}


@get("/", summary="Database, responder, background jobs, version, uptime")
async def health(
    request: Request[Any, Any, Any], app: NamedDependency[App]
) -> Response[dict[str, Any]]:
    """200 when the database answers, 503 otherwise.

    ``backgroundJobs`` is this process's loop (``stopped`` under `serve --no-jobs`); ``jobs``
    is each job's last successful run by any process (a `lucine worker` too), how many
    seconds ago, and which process ran it.
    """
    database = "ok"
    jobs: dict[str, dict[str, object]] = {}
    try:
        async with app.services.uow() as uow:
            await uow.sessions.count_by_status()
        jobs = await request.app.state.jobs.status()
    except (LucineError, OSError):
        database = "unavailable"
    healthy = database == "ok"
    body = {
        "status": "healthy" if healthy else "unhealthy",
        "version": VERSION,
        "uptimeSeconds": round(time.monotonic() - _STARTED),
        "database": database,
        "responder": app.services.responder.status().value,
        "backgroundJobs": request.app.state.jobs.state,
        "jobs": jobs,
    }
    return Response(body, status_code=200 if healthy else 503)


router = Router(path="/api/health", route_handlers=[live, health], tags=["health"])
