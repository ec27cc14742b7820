"""The operators' dashboard: /dashboard (the page) and /dashboard/<file> (its scripts, styles).

Plain files from ``static/dashboard``, no build step. Only flat names with a known
extension are served, so nothing outside that folder can be reached. Each gets its own
content type (module scripts need a JavaScript one; Litestar adds the UTF-8 charset to
text types) and is revalidated on every load, so a new release is picked up at once.
"""

# Litestar reads handler annotations at run time: no postponed evaluation here.

import re
from pathlib import Path
from types import MappingProxyType

from litestar import Router, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import File

__all__ = ["DASHBOARD_DIR", "router"]

DASHBOARD_DIR = Path(__file__).resolve().parent.parent / "static" / "dashboard"

_TYPES = MappingProxyType(
    {
        "html": "text/html",
        "js": "text/javascript",
        "css": "text/css",
        "svg": "image/svg+xml",
        "png": "image/png",
        "ico": "image/x-icon",
    }
)
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\.([a-z]{2,4})$")
_HEADERS = {"Cache-Control": "no-cache"}


def _file(name: str) -> File:
    match = _NAME.fullmatch(name)
    media_type = _TYPES.get(match.group(1)) if match else None
    path = DASHBOARD_DIR / name
    if media_type is None or not path.is_file():
        raise NotFoundException()
    return File(path, media_type=media_type, content_disposition_type="inline", headers=_HEADERS)


@get("/", summary="The operators' dashboard", include_in_schema=False)
async def page() -> File:
    """The single page; it logs in and talks to the API by itself."""
    return _file("index.html")


@get("/{name:str}", summary="A dashboard asset", include_in_schema=False)
async def asset(name: FromPath[str]) -> File:
    """A script, style sheet or image of the dashboard; 404 for anything else."""
    return _file(name)


router = Router(path="/dashboard", route_handlers=[page, asset], tags=["dashboard"])
