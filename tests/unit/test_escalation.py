"""The mechanical escalation rules: reasons, the failure counter, suppression and the buttons."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lucine_core.enums import EscalationReason, Language
from lucine_core.escalation import (
    CONTINUE_AI,
    REQUEST_OPERATOR,
    EscalationPolicy,
    EscalationState,
    SmartAction,
    after_continue_ai,
    assess_failure,
    assess_reply,
    reply_is_unsure,
    smart_actions,
    visitor_reasons,
)
from lucine_core.kb import Answer

R = EscalationReason
POLICY = EscalationPolicy()
FRESH = EscalationState()

NEUTRAL = "a che ora aprite?"
ASKS = "voglio parlare con un operatore"
UPSET = "è una vergogna"
GOOD = Answer(text="Gli orari sono 17:30-23:00.", sources=("kb-orari",), confidence=0.9)
UNSURE = Answer(text="Non sono sicuro, mi dispiace.", confidence=0.9)
WEAK = Answer(text="Forse intendi il biglietto famiglia.", confidence=0.1)


def _reply(answer, *, visitor_text=NEUTRAL, state=FRESH, policy=POLICY):
    return assess_reply(visitor_text=visitor_text, answer=answer, state=state, policy=policy)


def test_good_answer_to_a_neutral_question_offers_nothing():
    """A confident, plain answer to an ordinary question has no reasons and no offer."""
    decision = _reply(GOOD)
    assert decision.reasons == ()
    assert not decision.offer
    assert decision.state == EscalationState(consecutive_failures=0, suppress_next_offer=False)


def test_unsure_reply_offers_and_counts_a_failure():
    """A hedging reply adds REPLY_UNSURE, offers a human and counts one failure."""
    decision = _reply(UNSURE)
    assert decision.reasons == (R.REPLY_UNSURE,)
    assert decision.offer
    assert decision.state.consecutive_failures == 1


def test_low_confidence_offers_and_counts_a_failure():
    """A confidence below the policy's minimum adds LOW_CONFIDENCE and counts one failure."""
    decision = _reply(WEAK)
    assert decision.reasons == (R.LOW_CONFIDENCE,)
    assert decision.offer
    assert decision.state.consecutive_failures == 1


def test_confidence_at_the_threshold_is_enough():
    """A confidence exactly at min_confidence is not low."""
    answer = Answer(text=GOOD.text, confidence=POLICY.min_confidence)
    assert _reply(answer).reasons == ()


def test_nan_confidence_counts_as_low():
    """A NaN confidence from a broken responder is treated as low, never as certain."""
    answer = Answer(text=GOOD.text, confidence=math.nan)
    assert _reply(answer).reasons == (R.LOW_CONFIDENCE,)


def test_two_failures_in_a_row_add_repeated_failure_and_a_good_answer_resets():
    """The second failed answer in a row adds REPEATED_FAILURE; a good answer resets the count."""
    first = _reply(WEAK)
    assert R.REPEATED_FAILURE not in first.reasons
    second = _reply(UNSURE, state=first.state)
    assert second.reasons == (R.REPLY_UNSURE, R.REPEATED_FAILURE)
    assert second.state.consecutive_failures == 2
    third = _reply(WEAK, state=second.state)
    assert R.REPEATED_FAILURE in third.reasons
    reset = _reply(GOOD, state=third.state)
    assert reset.state.consecutive_failures == 0
    assert reset.reasons == ()
    after_reset = _reply(WEAK, state=reset.state)
    assert R.REPEATED_FAILURE not in after_reset.reasons


def test_policy_sets_the_repeated_failure_threshold():
    """With max_consecutive_failures=3, only the third failure in a row is a repeated failure."""
    policy = EscalationPolicy(max_consecutive_failures=3)
    state = FRESH
    seen = []
    for _ in range(3):
        decision = _reply(WEAK, state=state, policy=policy)
        seen.append(R.REPEATED_FAILURE in decision.reasons)
        state = decision.state
    assert seen == [False, False, True]


def test_visitor_asking_for_a_human_is_not_a_failed_answer():
    """An explicit request offers a human without counting the good answer as a failure."""
    decision = _reply(GOOD, visitor_text=ASKS, state=EscalationState(consecutive_failures=1))
    assert decision.reasons == (R.VISITOR_ASKED,)
    assert decision.offer
    assert decision.state.consecutive_failures == 0


def test_upset_visitor_is_offered_a_human():
    """An angry message adds VISITOR_UPSET and offers a human even under a good answer."""
    decision = _reply(GOOD, visitor_text=UPSET)
    assert decision.reasons == (R.VISITOR_UPSET,)
    assert decision.offer


def test_visitor_doubt_is_not_the_assistant_being_unsure():
    """A visitor writing "non sono sicuro" is not a hedging reply and escalates nothing."""
    decision = _reply(GOOD, visitor_text="non sono sicuro di quale biglietto comprare")
    assert decision.reasons == ()
    assert not decision.offer


def test_reasons_are_deduplicated_in_enum_order():
    """All reasons at once come out once each, in EscalationReason's order."""
    state = EscalationState(consecutive_failures=5)
    answer = Answer(text="I'm not sure, please contact support.", confidence=0.0)
    decision = _reply(
        answer, visitor_text="è una vergogna, voglio parlare con un operatore", state=state
    )
    assert decision.reasons == (
        R.VISITOR_ASKED,
        R.VISITOR_UPSET,
        R.REPLY_UNSURE,
        R.LOW_CONFIDENCE,
        R.REPEATED_FAILURE,
    )


def test_continue_ai_suppresses_exactly_one_automatic_offer():
    """After "continue with AI" the next failed answer is not offered; the one after is again."""
    state = after_continue_ai(EscalationState(consecutive_failures=1))
    assert state == EscalationState(consecutive_failures=0, suppress_next_offer=True)
    suppressed = _reply(UNSURE, state=state)
    assert suppressed.reasons == (R.REPLY_UNSURE,)
    assert not suppressed.offer
    assert not suppressed.state.suppress_next_offer
    again = _reply(UNSURE, state=suppressed.state)
    assert again.offer
    assert again.reasons == (R.REPLY_UNSURE, R.REPEATED_FAILURE)


def test_suppression_also_covers_an_upset_visitor():
    """Suppression applies to every automatic reason, anger included."""
    decision = _reply(GOOD, visitor_text=UPSET, state=after_continue_ai(FRESH))
    assert decision.reasons == (R.VISITOR_UPSET,)
    assert not decision.offer


def test_explicit_request_for_a_human_is_never_suppressed():
    """Asking for a human right after "continue with AI" still offers one."""
    decision = _reply(UNSURE, visitor_text=ASKS, state=after_continue_ai(FRESH))
    assert decision.offer
    assert R.VISITOR_ASKED in decision.reasons


def test_responder_failure_always_offers_and_counts():
    """A responder failure offers a human even when suppressed, and counts as a failure."""
    first = assess_failure(visitor_text=NEUTRAL, state=after_continue_ai(FRESH), policy=POLICY)
    assert first.offer
    assert first.reasons == (R.RESPONDER_FAILED,)
    assert first.state == EscalationState(consecutive_failures=1, suppress_next_offer=False)
    second = assess_failure(visitor_text=ASKS, state=first.state, policy=POLICY)
    assert second.reasons == (R.VISITOR_ASKED, R.REPEATED_FAILURE, R.RESPONDER_FAILED)
    assert second.state.consecutive_failures == 2


@pytest.mark.parametrize(
    ("language", "yes", "no"),
    [
        (Language.IT, "SÌ, CHIAMA OPERATORE", "NO, CONTINUA CON AI"),
        (Language.EN, "YES, CALL AN OPERATOR", "NO, CONTINUE WITH AI"),
        (Language.DE, "JA, MITARBEITER RUFEN", "NEIN, WEITER MIT KI"),
    ],
)
def test_smart_actions_per_language(language, yes, no):
    """Each language gets its own button texts with the widget's action ids."""
    assert smart_actions(language) == (
        SmartAction(text=yes, action="request_operator"),
        SmartAction(text=no, action="continue_ai"),
    )


def test_action_ids_match_the_widget_protocol():
    """The action ids are the strings widget v2.7 posts back."""
    assert (REQUEST_OPERATOR, CONTINUE_AI) == ("request_operator", "continue_ai")


@pytest.mark.parametrize(
    "text",
    [
        "l'operatore del parcheggio è gentile",
        "the staff at the entrance",
        "quante persone per biglietto famiglia",
        "grazie, sei stato utile",
        "is there support for strollers?",
    ],
)
def test_mentions_of_people_are_not_requests(text):
    """Talking about staff, people or support is neither a request for a human nor anger."""
    assert visitor_reasons(text) == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("c\u2019è un operatore disponibile?", (R.VISITOR_ASKED,)),
        ("VOGLIO PARLARE CON UN OPERATORE", (R.VISITOR_ASKED,)),
        ("Beschwerde!", (R.VISITOR_UPSET,)),
        ("this is ridiculous, human please", (R.VISITOR_ASKED, R.VISITOR_UPSET)),
    ],
)
def test_visitor_reasons_fold_case_accents_and_apostrophes(text, expected):
    """Typographic apostrophes, capitals and mixed reasons are recognised."""
    assert visitor_reasons(text) == expected


def test_plain_answer_is_not_unsure_and_a_hedge_is():
    """A factual reply is not unsure; a curly-apostrophe hedge is."""
    assert not reply_is_unsure("Gli orari sono 17:30-23:00")
    assert reply_is_unsure("I don\u2019t have information about that.")


@pytest.mark.parametrize(
    "kwargs", [{"min_confidence": 1.5}, {"min_confidence": -0.1}, {"max_consecutive_failures": 0}]
)
def test_policy_rejects_nonsense(kwargs):
    """A policy with a confidence outside [0, 1] or no failures allowed cannot be built."""
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        EscalationPolicy(**kwargs)


phrases = st.sampled_from([NEUTRAL, ASKS, UPSET, "human please", "Beschwerde", "ok", ""]) | st.text(
    max_size=80
)
replies = st.sampled_from([GOOD.text, UNSURE.text, "Ich bin mir nicht sicher."]) | st.text(
    max_size=80
)
states = st.builds(
    EscalationState,
    consecutive_failures=st.integers(min_value=0, max_value=10),
    suppress_next_offer=st.booleans(),
)
policies = st.builds(
    EscalationPolicy,
    min_confidence=st.floats(min_value=0.0, max_value=1.0),
    max_consecutive_failures=st.integers(min_value=1, max_value=5),
)
answers = st.builds(
    Answer, text=replies, confidence=st.floats(min_value=0.0, max_value=1.0) | st.just(math.nan)
)


@given(visitor_text=phrases, answer=answers, state=states, policy=policies)
def test_decision_invariants(visitor_text, answer, state, policy):
    """The stored state never suppresses, an offer always has a reason, the counter moves by one."""
    decision = assess_reply(visitor_text=visitor_text, answer=answer, state=state, policy=policy)
    assert decision.state.suppress_next_offer is False
    if not decision.reasons:
        assert decision.offer is False
    if decision.offer:
        assert decision.reasons
    assert len(set(decision.reasons)) == len(decision.reasons)
    assert decision.state.consecutive_failures in {0, state.consecutive_failures + 1}
    if R.VISITOR_ASKED in decision.reasons:
        assert decision.offer
    if not state.suppress_next_offer:
        assert decision.offer == bool(decision.reasons)


@given(visitor_text=phrases, state=states, policy=policies)
def test_failure_invariants(visitor_text, state, policy):
    """A responder failure always offers, never suppresses later, and always counts."""
    decision = assess_failure(visitor_text=visitor_text, state=state, policy=policy)
    assert decision.offer
    assert R.RESPONDER_FAILED in decision.reasons
    assert decision.state.suppress_next_offer is False
    assert decision.state.consecutive_failures == state.consecutive_failures + 1
