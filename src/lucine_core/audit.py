"""The append-only audit trail of operator actions."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType

import attrs

from lucine_core.enums import AuditAction

__all__ = ["AuditEntry"]


def _freeze(details: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(details))


@attrs.frozen(kw_only=True)
class AuditEntry:
    """Who did what to which thing, and when.

    Attributes:
        at: When.
        actor: ``operator:<id>`` or ``system``.
        action: What was done.
        subject: What it was done to (a session, ticket or operator id), or "".
        details: Small labels (never message text or passwords).
        id: Assigned by the audit store (0 until stored).
    """

    at: datetime
    actor: str
    action: AuditAction
    subject: str = ""
    details: Mapping[str, str] = attrs.field(factory=dict, converter=_freeze)
    id: int = 0
