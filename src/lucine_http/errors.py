"""Errors as JSON ``{"code", "message", "details"?}``: one table from domain errors to statuses."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    TooManyRequestsException,
    ValidationException,
)
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from lucine_core.errors import (
    AuthenticationError,
    ConflictError,
    ExternalServiceError,
    IllegalTransitionError,
    LucineError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)

__all__ = ["STATUS_OF", "RateLimited", "exception_handlers"]

_log = logging.getLogger("lucine.http")

STATUS_OF: Mapping[type[LucineError], int] = MappingProxyType(
    {
        ValidationError: 400,
        AuthenticationError: 401,
        PermissionDeniedError: 403,
        NotFoundError: 404,
        ConflictError: 409,
        IllegalTransitionError: 409,
        ExternalServiceError: 503,
    }
)
"""Each kind of domain error and its HTTP status; subclasses take their base's."""


class RateLimited(TooManyRequestsException):
    """A client went over a limit; carries the seconds until it may try again."""

    def __init__(self, retry_after: int, what: str) -> None:
        super().__init__(
            detail=f"too many {what}, try again in {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )
        self.retry_after = retry_after


def _body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return body


_NAMED = re.compile(r"`\$\.([A-Za-z0-9_]+)`|field `([A-Za-z0-9_]+)`")


def _field(item: dict[str, Any]) -> str:
    """The body field a validation message is about (msgspec names it in the text)."""
    key = str(item.get("key", ""))
    if key not in ("", "data"):
        return key
    match = _NAMED.search(str(item.get("message", "")))
    return next((g for g in match.groups() if g), key) if match else key


def _status(error: LucineError) -> int:
    for kind in type(error).__mro__:
        if kind in STATUS_OF:
            return STATUS_OF[kind]
    return HTTP_500_INTERNAL_SERVER_ERROR


def lucine_error(_: Request[Any, Any, Any], error: LucineError) -> Response[dict[str, Any]]:
    """A domain error as JSON with its stable code."""
    details = {"field": error.field} if isinstance(error, ValidationError) else None
    status = _status(error)
    if status == HTTP_500_INTERNAL_SERVER_ERROR:
        _log.error("unmapped domain error %s", type(error).__name__)
    elif status > HTTP_500_INTERNAL_SERVER_ERROR:
        _log.warning("%s: %s", error.code, error.message)
    return Response(_body(error.code, error.message, details), status_code=status)


_HTTP_CODES: Mapping[int, str] = MappingProxyType(
    {
        400: "invalid_input",
        401: "not_authenticated",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        413: "body_too_large",
        415: "unsupported_media_type",
        429: "rate_limited",
    }
)


def http_error(_: Request[Any, Any, Any], error: HTTPException) -> Response[dict[str, Any]]:
    """Framework errors (validation, 404 routes, 429 ...) in the same JSON shape."""
    status = error.status_code
    code = _HTTP_CODES.get(status, "http_error")
    details = None
    message = str(error.detail)
    if isinstance(error, ValidationException) and isinstance(error.extra, list):
        details = [
            {"field": _field(item), "message": str(item.get("message", ""))}
            for item in error.extra
            if isinstance(item, dict)
        ]
        fields = ", ".join(d["field"] for d in details if d["field"])
        message = f"invalid input: {fields}" if fields else "invalid input"
    elif isinstance(error, NotAuthorizedException):
        message = "authentication required"
    elif isinstance(error, NotFoundException):
        message = "not found"
    elif isinstance(error, PermissionDeniedException):
        message = "forbidden"
    return Response(_body(code, message, details), status_code=status, headers=error.headers)


def undecodable_body(_: Request[Any, Any, Any], error: Exception) -> Response[dict[str, Any]]:
    """A body the JSON decoder cannot read at all (invalid UTF-8, absurd nesting)."""
    return Response(
        _body("invalid_input", f"the request body cannot be read: {type(error).__name__}"),
        status_code=400,
    )


def unexpected_error(_: Request[Any, Any, Any], error: Exception) -> Response[dict[str, Any]]:
    """Anything else: logged with its traceback, answered without one."""
    _log.exception("unexpected error", exc_info=error)
    return Response(
        _body("internal_error", "something went wrong on our side"),
        status_code=HTTP_500_INTERNAL_SERVER_ERROR,
    )


exception_handlers: dict[type[Exception] | int, Any] = {
    LucineError: lucine_error,
    HTTPException: http_error,
    # Raised by the JSON decoder before any handler runs, so they are the client's doing.
    UnicodeDecodeError: undecodable_body,
    RecursionError: undecodable_body,
    Exception: unexpected_error,
}
