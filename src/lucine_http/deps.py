"""What handlers receive: the services, the config, the limiter, the current operator."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException

from lucine_core.errors import AuthenticationError, PermissionDeniedError
from lucine_core.operators import Operator
from lucine_core.services import Services
from lucine_core.services.operators import authenticate
from lucine_http.clients import client_address
from lucine_http.config import HttpConfig, Limit
from lucine_http.errors import RateLimited

__all__ = ["App", "admin", "check_limit", "current_operator", "token_of"]

TOKEN_COOKIE = "lucine_token"  # noqa: S105 - a cookie name, not a secret


class App:
    """Services and HTTP config, as one dependency.

    A plain class on purpose: Litestar would try to parse an attrs class field by field.
    """

    __slots__ = ("config", "services")

    def __init__(self, services: Services, config: HttpConfig) -> None:
        self.services = services
        self.config = config

    def client(self, request: Request[Any, Any, Any]) -> str:
        """The requesting client's address."""
        return client_address(request, self.config)


def token_of(request: Request[Any, Any, Any]) -> str | None:
    """The bearer token from the Authorization header (or the dashboard's cookie)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(TOKEN_COOKIE) or None


async def current_operator(request: Request[Any, Any, Any], app: NamedDependency[App]) -> Operator:
    """The authenticated operator.

    Raises:
        NotAuthorizedException: no token, or a bad, expired or revoked one (401).
    """
    token = token_of(request)
    if token is None:
        raise NotAuthorizedException()
    try:
        return await authenticate(app.services, token)
    except AuthenticationError:
        raise NotAuthorizedException() from None


async def admin(request: Request[Any, Any, Any], app: NamedDependency[App]) -> Operator:
    """The authenticated operator, who must be an admin (403 otherwise)."""
    operator = await current_operator(request, app)
    if not operator.is_admin:
        raise PermissionDeniedError(action="use admin routes")
    return operator


async def check_limit(app: NamedDependency[App], key: str, limit: Limit, what: str) -> None:
    """Count one attempt under ``key``; 429 with Retry-After when over ``limit``."""
    decision = await app.services.limiter.hit(
        key, limit=limit.count, window=limit.window, now=app.services.clock.now()
    )
    if not decision.allowed:
        raise RateLimited(decision.retry_after_seconds, what)
