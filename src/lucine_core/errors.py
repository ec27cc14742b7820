"""The domain's errors: one root, a few kinds, each carrying fields rather than prose.

The HTTP layer maps each kind to a status code in one table and the CLI maps each to an
exit code in one function, so a new error only needs to pick the right base class.
"""

from __future__ import annotations

import attrs

__all__ = [
    "AuthenticationError",
    "ConcurrencyError",
    "ConflictError",
    "ExternalServiceError",
    "IllegalTransitionError",
    "LucineError",
    "NotFoundError",
    "PermissionDeniedError",
    "ValidationError",
]


@attrs.define(kw_only=True, auto_exc=True)
class LucineError(Exception):
    """Root of every error the core raises on purpose."""

    code: str = "error"

    @property
    def message(self) -> str:
        """A one-line English explanation for logs and API clients."""
        return self.code

    def __str__(self) -> str:
        return self.message


@attrs.define(kw_only=True, auto_exc=True)
class NotFoundError(LucineError):
    """The named thing does not exist (or the caller may not know it exists)."""

    kind: str
    key: str
    code: str = "not_found"

    @property
    def message(self) -> str:
        return f"{self.kind} not found"


@attrs.define(kw_only=True, auto_exc=True)
class ConflictError(LucineError):
    """The request is valid but clashes with the current state (e.g. a chat already taken)."""

    reason: str
    code: str = "conflict"

    @property
    def message(self) -> str:
        return self.reason


@attrs.define(kw_only=True, auto_exc=True)
class ConcurrencyError(ConflictError):
    """Another writer changed the record first; the use case may retry on fresh data."""

    kind: str = "record"
    key: str = ""
    reason: str = "the record was changed concurrently"
    code: str = "concurrent_update"


@attrs.define(kw_only=True, auto_exc=True)
class IllegalTransitionError(LucineError):
    """The session state machine has no transition for this state and trigger."""

    state: str
    trigger: str
    code: str = "illegal_transition"

    @property
    def message(self) -> str:
        return f"cannot {self.trigger} a chat that is {self.state}"


@attrs.define(kw_only=True, auto_exc=True)
class PermissionDeniedError(LucineError):
    """The actor is known but not allowed to do this."""

    action: str
    code: str = "forbidden"

    @property
    def message(self) -> str:
        return f"not allowed to {self.action}"


@attrs.define(kw_only=True, auto_exc=True)
class ValidationError(LucineError):
    """Input that can never be valid: names the offending field and why."""

    field: str
    reason: str
    code: str = "invalid_input"

    @property
    def message(self) -> str:
        return f"{self.field}: {self.reason}"


@attrs.define(kw_only=True, auto_exc=True)
class ExternalServiceError(LucineError):
    """A service behind a port (model server, mail relay, database) failed or timed out."""

    service: str
    reason: str
    retryable: bool = True
    code: str = "service_unavailable"

    @property
    def message(self) -> str:
        return f"{self.service}: {self.reason}"


@attrs.define(kw_only=True, auto_exc=True)
class AuthenticationError(LucineError):
    """Credentials or a token were wrong; says nothing about which part."""

    code: str = "invalid_credentials"

    @property
    def message(self) -> str:
        return "invalid credentials"
