"""When to offer the visitor a human: mechanical rules, never left to the model.

After every answer the chat service calls `assess_reply` (or `assess_failure` when the
responder could not answer at all) with the state stored on the session, stores the
returned state, and shows `smart_actions` when the decision says to offer. The phrases
that count as a request for a human, anger, or a hedging reply are data in
`lucine_core.escalation_patterns`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType

import attrs

from lucine_core.enums import EscalationReason, Language
from lucine_core.escalation_patterns import ASKS_HUMAN, PATTERNS, UNSURE, UPSET
from lucine_core.kb import Answer
from lucine_core.text import fold

__all__ = [
    "CONTINUE_AI",
    "REQUEST_OPERATOR",
    "SMART_ACTION_LABELS",
    "EscalationDecision",
    "EscalationPolicy",
    "EscalationState",
    "SmartAction",
    "after_continue_ai",
    "assess_failure",
    "assess_reply",
    "reply_is_unsure",
    "smart_actions",
    "visitor_reasons",
]

REQUEST_OPERATOR = "request_operator"
CONTINUE_AI = "continue_ai"

# (yes, no) button texts; the widget shows them as written.
SMART_ACTION_LABELS: Mapping[Language, tuple[str, str]] = MappingProxyType(
    {
        Language.IT: ("SÌ, CHIAMA OPERATORE", "NO, CONTINUA CON AI"),
        Language.EN: ("YES, CALL AN OPERATOR", "NO, CONTINUE WITH AI"),
        Language.DE: ("JA, MITARBEITER RUFEN", "NEIN, WEITER MIT KI"),
    }
)

_FAILED_ANSWER = frozenset({EscalationReason.REPLY_UNSURE, EscalationReason.LOW_CONFIDENCE})
_REASON_ORDER = {reason: index for index, reason in enumerate(EscalationReason)}


@attrs.frozen(kw_only=True)
class SmartAction:
    """A button offered under a reply.

    Attributes:
        text: What the button says, in the visitor's language.
        action: What clicking it sends back: `REQUEST_OPERATOR` or `CONTINUE_AI`.
    """

    text: str
    action: str


@attrs.frozen(kw_only=True)
class EscalationPolicy:
    """The tunable thresholds of escalation.

    Attributes:
        min_confidence: Below this an answer counts as failed (`LOW_CONFIDENCE`).
        max_consecutive_failures: This many failed answers in a row add `REPEATED_FAILURE`.
    """

    min_confidence: float = attrs.field(
        default=0.35, validator=[attrs.validators.ge(0.0), attrs.validators.le(1.0)]
    )
    max_consecutive_failures: int = attrs.field(default=2, validator=attrs.validators.ge(1))


@attrs.frozen(kw_only=True)
class EscalationState:
    """What escalation remembers between two answers of one chat session.

    Attributes:
        consecutive_failures: Failed answers in a row so far.
        suppress_next_offer: The visitor just chose to continue with the assistant, so the
            next automatic offer is skipped (an explicit request for a human never is).
    """

    consecutive_failures: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    suppress_next_offer: bool = False


@attrs.frozen(kw_only=True)
class EscalationDecision:
    """The outcome of assessing one answer.

    Attributes:
        offer: Whether to show the smart actions under this answer.
        reasons: Every reason found, de-duplicated, in `EscalationReason` order; recorded
            in analytics even when the offer is suppressed.
        state: The state to store on the session for the next answer.
    """

    offer: bool
    reasons: tuple[EscalationReason, ...]
    state: EscalationState


def _compile(kind: str) -> tuple[re.Pattern[str], ...]:
    return tuple(
        re.compile(pattern) for patterns in PATTERNS[kind].values() for pattern in patterns
    )


# Every language's patterns are tried on every message: the detected language can be
# wrong on short messages, and a German "Beschwerde" in an Italian chat is still anger.
_COMPILED: Mapping[str, tuple[re.Pattern[str], ...]] = MappingProxyType(
    {kind: _compile(kind) for kind in PATTERNS}
)


def _matches(kind: str, text: str) -> bool:
    folded = fold(text.replace("\u2019", "'"))
    return any(pattern.search(folded) for pattern in _COMPILED[kind])


def _ordered(reasons: Iterable[EscalationReason]) -> tuple[EscalationReason, ...]:
    return tuple(sorted(set(reasons), key=_REASON_ORDER.__getitem__))


def visitor_reasons(text: str) -> tuple[EscalationReason, ...]:
    """Return why the visitor's own message calls for a human.

    Args:
        text: The visitor's message, as typed.

    Returns:
        `VISITOR_ASKED` when the visitor explicitly asks for a person, `VISITOR_UPSET` on
        anger or a complaint; both, one or neither, in that order.
    """
    reasons = []
    if _matches(ASKS_HUMAN, text):
        reasons.append(EscalationReason.VISITOR_ASKED)
    if _matches(UPSET, text):
        reasons.append(EscalationReason.VISITOR_UPSET)
    return tuple(reasons)


def reply_is_unsure(text: str) -> bool:
    """Return whether the assistant's reply hedges or sends the visitor to support.

    Args:
        text: The reply the visitor is about to read.

    Returns:
        True for replies such as "non sono sicuro", "I don't have information" or
        "wenden Sie sich an den Support"; False for a plain answer.
    """
    return _matches(UNSURE, text)


def _decide(
    reasons: list[EscalationReason],
    *,
    failed: bool,
    state: EscalationState,
    policy: EscalationPolicy,
    force_offer: bool,
) -> EscalationDecision:
    failures = state.consecutive_failures + 1 if failed else 0
    if failures >= policy.max_consecutive_failures:
        reasons.append(EscalationReason.REPEATED_FAILURE)
    ordered = _ordered(reasons)
    suppressed = state.suppress_next_offer and EscalationReason.VISITOR_ASKED not in ordered
    return EscalationDecision(
        offer=bool(ordered) and (force_offer or not suppressed),
        reasons=ordered,
        state=EscalationState(consecutive_failures=failures, suppress_next_offer=False),
    )


def assess_reply(
    *,
    visitor_text: str,
    answer: Answer,
    state: EscalationState,
    policy: EscalationPolicy,
) -> EscalationDecision:
    """Decide whether to offer a human under an answer the responder produced.

    An answer that hedges (`REPLY_UNSURE`) or whose confidence is below
    ``policy.min_confidence`` (`LOW_CONFIDENCE`) counts as failed; failures in a row are
    counted in the state and, at ``policy.max_consecutive_failures``, add
    `REPEATED_FAILURE`. A good answer resets the count. A suppressed offer (the visitor
    chose to continue with the assistant) stays suppressed for this one answer only,
    unless the visitor explicitly asks for a human.

    Args:
        visitor_text: The message the answer replies to.
        answer: The responder's answer.
        state: The state stored on the session after the previous answer.
        policy: The thresholds to apply.

    Returns:
        Whether to offer, why, and the state to store.
    """
    reasons = list(visitor_reasons(visitor_text))
    if reply_is_unsure(answer.text):
        reasons.append(EscalationReason.REPLY_UNSURE)
    # Written as "not >=" so that a NaN confidence counts as low rather than as certain.
    if not answer.confidence >= policy.min_confidence:
        reasons.append(EscalationReason.LOW_CONFIDENCE)
    failed = any(reason in _FAILED_ANSWER for reason in reasons)
    return _decide(reasons, failed=failed, state=state, policy=policy, force_offer=False)


def assess_failure(
    *,
    visitor_text: str,
    state: EscalationState,
    policy: EscalationPolicy,
) -> EscalationDecision:
    """Decide what to offer when the responder produced no answer (timeout, error).

    The visitor only gets a polite fallback, so a human is always offered, even right
    after "continue with AI". The failure counts towards `REPEATED_FAILURE` like a
    failed answer.

    Args:
        visitor_text: The message that could not be answered.
        state: The state stored on the session after the previous answer.
        policy: The thresholds to apply.

    Returns:
        A decision that offers, with `RESPONDER_FAILED` among its reasons.
    """
    reasons = [*visitor_reasons(visitor_text), EscalationReason.RESPONDER_FAILED]
    return _decide(reasons, failed=True, state=state, policy=policy, force_offer=True)


def after_continue_ai(state: EscalationState) -> EscalationState:
    """Return the state after the visitor clicked "continue with AI".

    The visitor has just declined a human: the next automatic offer is skipped and the
    failure count starts again, so the very next weak answer does not nag them.

    Args:
        state: The state stored on the session.

    Returns:
        A state with no failures and the next offer suppressed.
    """
    return attrs.evolve(state, consecutive_failures=0, suppress_next_offer=True)


def smart_actions(language: Language) -> tuple[SmartAction, SmartAction]:
    """Return the two buttons offered with an escalation, in the visitor's language.

    Args:
        language: The session's language.

    Returns:
        The "call an operator" button, then the "continue with AI" button.
    """
    yes, no = SMART_ACTION_LABELS[language]
    return (
        SmartAction(text=yes, action=REQUEST_OPERATOR),
        SmartAction(text=no, action=CONTINUE_AI),
    )
