"""How the assistant answers one question: retrieval, the responder, the escalation rules.

Shared by the visitor's chat and the dashboard's "try a question" box, so what an
operator tries there is exactly what a visitor would get in a new chat.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import attrs

from lucine_core import escalation as esc
from lucine_core.enums import EscalationReason, Language
from lucine_core.errors import ExternalServiceError
from lucine_core.kb import Answer, AnswerRequest, RetrievedItem, TextSink, Turn
from lucine_core.phrases import say
from lucine_core.services.context import Services

__all__ = ["Composed", "compose_answer"]

HistoryLoader = Callable[[], Awaitable[tuple[Sequence[Turn], int]]]
"""Loads the earlier messages a responder sees and the model tokens the chat has used."""


@attrs.frozen(kw_only=True)
class Composed:
    """The reply to show, whether to offer a human and why, and what grounded it.

    Attributes:
        answer: The reply, its sources limited to ``retrieved``.
        decision: The escalation decision (its ``state`` is what the session stores).
        retrieved: The knowledge-base items the responder was given, best first.
        failed: The responder raised, so ``answer`` is the polite fallback.
    """

    answer: Answer
    decision: esc.EscalationDecision
    retrieved: tuple[RetrievedItem, ...] = ()
    failed: bool = False


async def compose_answer(
    services: Services,
    *,
    text: str,
    language: Language,
    state: esc.EscalationState,
    history: HistoryLoader,
    queued: bool = False,
    on_text: TextSink | None = None,
) -> Composed:
    """Answer ``text`` as the assistant would, without storing anything.

    A visitor who asks for a human (and is not queued already) gets the offer without
    the responder being asked. ``on_text`` receives the reply while it is written, if
    the responder streams. A responder failure gives the polite fallback, which
    always offers a human. A low-confidence answer citing nothing becomes "not sure".
    """
    reasons = esc.visitor_reasons(text)
    if EscalationReason.VISITOR_ASKED in reasons and not queued:
        return Composed(
            answer=Answer(text=say("offer_human", language), confidence=1.0),
            decision=esc.EscalationDecision(
                offer=True, reasons=reasons, state=esc.EscalationState()
            ),
        )
    policy = services.policies.escalation
    retrieved: tuple[RetrievedItem, ...] = ()
    try:
        retrieved = tuple(
            await services.kb.search(
                text, language=language, limit=services.policies.retrieval_limit
            )
        )
        turns, tokens_used = await history()
        answer = await services.responder.answer(
            AnswerRequest(
                question=text,
                language=language,
                history=turns,
                retrieved=retrieved,
                tokens_used=tokens_used,
            ),
            on_text=on_text,
        )
    except ExternalServiceError:
        return Composed(
            answer=Answer(text=say("responder_failed", language)),
            decision=esc.assess_failure(visitor_text=text, state=state, policy=policy),
            retrieved=retrieved,
            failed=True,
        )
    allowed = {r.item.id for r in retrieved}
    answer = attrs.evolve(answer, sources=tuple(s for s in answer.sources if s in allowed))
    decision = esc.assess_reply(visitor_text=text, answer=answer, state=state, policy=policy)
    unsure = EscalationReason.LOW_CONFIDENCE in decision.reasons and not answer.sources
    if decision.offer and unsure:
        answer = attrs.evolve(answer, text=say("not_sure", language))
    return Composed(answer=answer, decision=decision, retrieved=retrieved)
