"""Security headers on every response; the widget's script and API may be used cross-origin."""

from __future__ import annotations

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

__all__ = ["security_headers"]

_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
# The OpenAPI page loads its viewer from its own script tag; give it room, nothing more.
_DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src https://fonts.gstatic.com; img-src 'self' data: https://cdn.redoc.ly; "
    "worker-src blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


async def security_headers(message: Message, scope: Scope) -> None:
    """A ``before_send`` hook: nosniff, Referrer-Policy, CSP, HSTS (over TLS), no-store.

    A hook rather than a middleware so that responses Litestar makes before any route
    matches (404, 405, CORS preflights) get the headers too.
    """
    if message["type"] != "http.response.start":
        return
    path: str = scope.get("path", "")
    headers = MutableScopeHeaders.from_message(message)
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    headers["Content-Security-Policy"] = _DOCS_CSP if path.startswith("/api/docs") else _CSP
    headers["X-Frame-Options"] = "DENY"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if path.startswith("/api/") and not path.startswith("/api/docs"):
        headers["Cache-Control"] = "no-store"
    # The widget and the visitor API are loaded and called from the shops' pages.
    cross_origin = path in ("/widget.js", "/widget.css") or path.startswith("/api/chat")
    headers["Cross-Origin-Resource-Policy"] = "cross-origin" if cross_origin else "same-origin"
    if scope.get("scheme") == "https":
        headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
