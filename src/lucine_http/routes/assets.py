"""The widget's files: /widget.js and /widget.css for the shops, /demo, and /static/<file>.

``/static`` serves the widget's and the demo page's files only, by name from a fixed
list; the dashboard's files are served by the dashboard's own routes.
"""

# Litestar reads handler annotations at run time: no postponed evaluation here.

from pathlib import Path
from types import MappingProxyType

from litestar import Router, get
from litestar.datastructures import CacheControlHeader
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import File

__all__ = ["STATIC_DIR", "router"]

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

# Shops cache the one tag for five minutes: a new widget reaches every page that quickly,
# and a busy evening costs one request per visitor per five minutes, not one per page.
_WIDGET_CACHE = CacheControlHeader(public=True, max_age=300)
# The demo page should always show the widget as it is now.
_PAGE_CACHE = CacheControlHeader(no_cache=True)


def _file(name: str, media_type: str) -> File:
    # Litestar adds "; charset=utf-8" to text/* types itself.
    return File(
        STATIC_DIR / name, filename=name, content_disposition_type="inline", media_type=media_type
    )


@get("/widget.js", cache_control=_WIDGET_CACHE, include_in_schema=False, sync_to_thread=False)
def widget_js() -> File:
    """The chat widget, embedded by shops with one script tag."""
    return _file("widget.js", "text/javascript")


@get("/widget.css", cache_control=_WIDGET_CACHE, include_in_schema=False, sync_to_thread=False)
def widget_css() -> File:
    """The widget's stylesheet; widget.js links it from the same origin."""
    return _file("widget.css", "text/css")


@get("/demo", cache_control=_PAGE_CACHE, include_in_schema=False, sync_to_thread=False)
def demo_page() -> File:
    """A demo shop page for Lucine di Natale with the widget embedded."""
    return _file("demo.html", "text/html")


_STATIC_TYPES = MappingProxyType(
    {"widget.js": "text/javascript", "widget.css": "text/css", "demo.css": "text/css"}
)


@get(
    "/static/{name:str}",
    cache_control=CacheControlHeader(public=True, max_age=3600),
    include_in_schema=False,
    sync_to_thread=False,
)
def static_file(name: FromPath[str]) -> File:
    """One of the widget's or the demo page's files (404 for any other name)."""
    media_type = _STATIC_TYPES.get(name)
    if media_type is None:
        raise NotFoundException()
    return _file(name, media_type)


router = Router(path="/", route_handlers=[widget_js, widget_css, demo_page, static_file])
