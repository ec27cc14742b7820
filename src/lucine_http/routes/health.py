"""Health: /api/health (503 when the database is down) and /api/health/live."""

# Litestar reads handler annotations at run time: no postponed evaluation here.

import time
from typing import Any

from litestar import Request, Response, Router, get
from litestar.di import NamedDependency

from lucine_adapters.readiness import Readiness
from lucine_http.deps import App

__all__ = ["router"]

_STARTED = time.monotonic()
VERSION = "0.1.0"


@get("/live", summary="The process answers")
async def live() -> dict[str, str]:
    """Always ok while the process serves requests."""
    return {"status": "ok"}


@get("/", summary="Readiness: database, schema, responder, background jobs, version, uptime")
async def health(
    request: Request[Any, Any, Any], app: NamedDependency[App]
) -> Response[dict[str, Any]]:
    """200 when this process should take traffic, 503 otherwise (readiness).

    Ready: the database answered within 3 s and its schema is the one this version expects
    (``schema.status`` is ``behind`` until `lucine db upgrade`, ``ahead`` once a newer
    release upgraded it). ``backgroundJobs`` is this process's loop (``stopped`` under
    `serve --no-jobs`); ``jobs`` is each job's last successful run by any process (a
    `lucine worker` too), how many seconds ago, and which process ran it.
    """
    readiness: Readiness = request.app.state.readiness
    report = await readiness.check()
    body = {
        "status": "healthy" if report.ready else "unhealthy",
        "version": VERSION,
        "uptimeSeconds": round(time.monotonic() - _STARTED),
        "database": report.database,
        "schema": {
            "status": report.schema,
            "revision": report.revision,
            "expected": report.expected,
        },
        "responder": app.services.responder.status().value,
        "backgroundJobs": request.app.state.jobs.state,
        "jobs": report.jobs,
    }
    return Response(body, status_code=200 if report.ready else 503)


router = Router(path="/api/health", route_handlers=[live, health], tags=["health"])
