"""The transition table is exactly DESIGN.md's, and nothing outside it is allowed."""

from __future__ import annotations

import pytest

from lucine_core.enums import SessionStatus as S
from lucine_core.enums import Trigger as T
from lucine_core.errors import IllegalTransitionError
from lucine_core.states import TRANSITIONS, next_status

# DESIGN.md's table, transcribed by hand (state changes only; self-loops are checked below).
DESIGN_CHANGES = {
    (S.ACTIVE, T.VISITOR_INACTIVE): S.IDLE,
    (S.IDLE, T.VISITOR_WRITES): S.ACTIVE,
    (S.ACTIVE, T.OPERATOR_TAKES): S.WITH_OPERATOR,
    (S.IDLE, T.OPERATOR_TAKES): S.WITH_OPERATOR,
    (S.WITH_OPERATOR, T.VISITOR_INACTIVE): S.WAITING_CLIENT,
    (S.WAITING_CLIENT, T.VISITOR_WRITES): S.WITH_OPERATOR,
    (S.WITH_OPERATOR, T.CLOSE_RESOLVED): S.RESOLVED,
    (S.WITH_OPERATOR, T.CLOSE_NOT_RESOLVED): S.NOT_RESOLVED,
    (S.WITH_OPERATOR, T.CLOSE_CANCELLED): S.CANCELLED,
    (S.WAITING_CLIENT, T.CLOSE_RESOLVED): S.RESOLVED,
    (S.WAITING_CLIENT, T.CLOSE_NOT_RESOLVED): S.NOT_RESOLVED,
    (S.WAITING_CLIENT, T.CLOSE_CANCELLED): S.CANCELLED,
    (S.WITH_OPERATOR, T.HAND_BACK): S.ACTIVE,
    (S.WAITING_CLIENT, T.HAND_BACK): S.ACTIVE,
    (S.RESOLVED, T.VISITOR_WRITES): S.ACTIVE,
    (S.NOT_RESOLVED, T.VISITOR_WRITES): S.ACTIVE,
    (S.CANCELLED, T.VISITOR_WRITES): S.ACTIVE,
    **{(s, T.NO_ACTIVITY): S.ENDED for s in S if s is not S.ENDED},
}


def test_every_state_change_is_designs() -> None:
    """The table's state-changing entries are exactly DESIGN.md's transitions."""
    changes = {k: v for k, v in TRANSITIONS.items() if k[0] is not v}
    assert changes == DESIGN_CHANGES


def test_self_loops_never_change_state() -> None:
    """Entries that do not change state are only the allowed in-state actions."""
    loops = {k for k, v in TRANSITIONS.items() if k[0] is v}
    assert (S.ACTIVE, T.VISITOR_WRITES) in loops
    assert (S.WITH_OPERATOR, T.OPERATOR_WRITES) in loops
    assert all(trigger is not T.OPERATOR_TAKES for _, trigger in loops)


def test_ended_is_terminal() -> None:
    """No trigger leads out of ENDED."""
    for trigger in T:
        with pytest.raises(IllegalTransitionError):
            next_status(S.ENDED, trigger)


@pytest.mark.parametrize(
    ("state", "trigger"),
    [
        (S.ACTIVE, T.CLOSE_RESOLVED),
        (S.WITH_OPERATOR, T.OPERATOR_TAKES),
        (S.RESOLVED, T.OPERATOR_WRITES),
        (S.IDLE, T.HAND_BACK),
        (S.WAITING_CLIENT, T.ASSISTANT_ANSWERS),
    ],
)
def test_illegal_transitions_raise_typed_error(state: S, trigger: T) -> None:
    """A pair missing from the table raises IllegalTransitionError naming both."""
    with pytest.raises(IllegalTransitionError) as caught:
        next_status(state, trigger)
    assert caught.value.state == state.value
    assert caught.value.trigger == trigger.value
