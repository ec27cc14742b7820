"""Who did something: a visitor, an operator, or the system itself."""

from __future__ import annotations

import attrs

__all__ = ["ASSISTANT", "SYSTEM", "VISITOR", "Actor"]


@attrs.frozen
class Actor:
    """The author of a state change or an audited action.

    Attributes:
        kind: ``visitor``, ``operator`` or ``system``.
        id: The operator's id, for operators.
    """

    kind: str
    id: str | None = None

    @classmethod
    def operator(cls, operator_id: str) -> Actor:
        """The operator with this id."""
        return cls("operator", operator_id)

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}" if self.id else self.kind


VISITOR = Actor("visitor")
SYSTEM = Actor("system")
ASSISTANT = Actor("assistant")
