"""Document Lucine's error body in the OpenAPI schema, in place of Litestar's default."""

from __future__ import annotations

from litestar import Litestar
from litestar.enums import MediaType
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Reference, Schema

__all__ = ["document_errors"]

_ERROR = Schema(
    type=OpenAPIType.OBJECT,
    required=["code", "message"],
    properties={
        "code": Schema(type=OpenAPIType.STRING, description="Stable, machine-readable"),
        "message": Schema(type=OpenAPIType.STRING, description="One line for people"),
        "details": Schema(
            type=[OpenAPIType.OBJECT, OpenAPIType.ARRAY],
            description="The offending field(s), for input errors",
        ),
    },
    description="Every error: a stable code, a human message, and details when useful.",
)
_METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")


def document_errors(app: Litestar) -> None:
    """Every operation's 400 and every other error status use the Error schema."""
    schema = app.openapi_schema
    schema.components.schemas["Error"] = _ERROR
    reference = Reference(ref="#/components/schemas/Error")
    error = OpenAPIResponse(
        description="Error",
        content={MediaType.JSON: OpenAPIMediaType(schema=reference)},
    )
    for path in (schema.paths or {}).values():
        for method in _METHODS:
            operation = getattr(path, method, None)
            if operation is None or operation.responses is None:
                continue
            operation.responses["400"] = OpenAPIResponse(
                description="Invalid input", content=error.content
            )
            operation.responses["default"] = error
