"""The session state machine: one read-only table and one function that reads it.

Self-loops are listed too: they are the actions a state allows without changing it
(a visitor writing to an active chat, an operator writing to the chat they hold). So
"may this happen now?" is answered here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from lucine_core.enums import SessionStatus as S
from lucine_core.enums import Trigger as T
from lucine_core.errors import IllegalTransitionError

__all__ = ["TERMINAL", "TRANSITIONS", "next_status"]

_CLOSED = (S.RESOLVED, S.NOT_RESOLVED, S.CANCELLED)
_HELD = (S.WITH_OPERATOR, S.WAITING_CLIENT)

_table: dict[tuple[S, T], S] = {
    (S.ACTIVE, T.VISITOR_WRITES): S.ACTIVE,
    (S.ACTIVE, T.ASSISTANT_ANSWERS): S.ACTIVE,
    (S.ACTIVE, T.REQUEST_OPERATOR): S.ACTIVE,
    (S.ACTIVE, T.VISITOR_INACTIVE): S.IDLE,
    (S.IDLE, T.VISITOR_WRITES): S.ACTIVE,
    (S.WITH_OPERATOR, T.VISITOR_WRITES): S.WITH_OPERATOR,
    (S.WITH_OPERATOR, T.VISITOR_INACTIVE): S.WAITING_CLIENT,
    (S.WAITING_CLIENT, T.VISITOR_WRITES): S.WITH_OPERATOR,
    **{(s, T.OPERATOR_TAKES): S.WITH_OPERATOR for s in (S.ACTIVE, S.IDLE)},
    **{(s, T.OPERATOR_WRITES): s for s in _HELD},
    **{(s, T.TRANSFER): s for s in _HELD},
    **{(s, T.HAND_BACK): S.ACTIVE for s in _HELD},
    **{(s, T.CLOSE_RESOLVED): S.RESOLVED for s in _HELD},
    **{(s, T.CLOSE_NOT_RESOLVED): S.NOT_RESOLVED for s in _HELD},
    **{(s, T.CLOSE_CANCELLED): S.CANCELLED for s in _HELD},
    **{(s, T.VISITOR_WRITES): S.ACTIVE for s in _CLOSED},
    **{(s, T.RATE): s for s in _CLOSED},
    **{(s, T.NO_ACTIVITY): S.ENDED for s in S if s is not S.ENDED},
}

TRANSITIONS: Mapping[tuple[S, T], S] = MappingProxyType(_table)
"""(state, trigger) -> next state; a pair that is absent is an illegal transition."""

TERMINAL = frozenset({S.ENDED})
"""States no trigger leaves; a visitor's next message starts a new session."""


def next_status(state: S, trigger: T) -> S:
    """Return the state that ``trigger`` leads to from ``state``.

    Raises:
        IllegalTransitionError: the table has no such transition.
    """
    try:
        return TRANSITIONS[state, trigger]
    except KeyError:
        raise IllegalTransitionError(state=state.value, trigger=trigger.value) from None
