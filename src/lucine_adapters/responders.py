"""The offline responder: answers with the best knowledge-base item, or says it is unsure."""

from __future__ import annotations

from lucine_core.enums import ResponderStatus
from lucine_core.kb import Answer, AnswerRequest, TextSink
from lucine_core.phrases import say

__all__ = ["FixedResponder", "KbResponder"]


class KbResponder:
    """Answers from retrieval alone: no network, no model, deterministic.

    The top retrieved item answers when its calibrated score reaches ``min_confidence``;
    an item in the visitor's language is preferred when it scores almost as well.
    Below the threshold it says it is unsure (and the core's escalation rules then
    offer a human) rather than guess. A multi-part question whose parts each found
    their item confidently (hits with ``part`` 1, 2, ...) gets each part's answer, in
    order, citing every item.
    """

    def __init__(self, min_confidence: float, *, language_margin: float = 0.1) -> None:
        self._min_confidence = min_confidence
        self._language_margin = language_margin

    async def answer(self, request: AnswerRequest, *, on_text: TextSink | None = None) -> Answer:
        """Answer with the best item (or each part's), citing what it used."""
        parts = [hit for hit in request.retrieved if hit.part]
        if len(parts) > 1 and all(hit.score >= self._min_confidence for hit in parts):
            return Answer(
                text="\n\n".join(hit.item.answer for hit in parts),
                sources=tuple(hit.item.id for hit in parts),
                confidence=min(hit.score for hit in parts),
            )
        hits = sorted(request.retrieved, key=lambda r: r.score, reverse=True)
        if not hits or hits[0].score < self._min_confidence:
            top = hits[0].score if hits else 0.0
            return Answer(text=say("not_sure", request.language), confidence=top)
        best = hits[0]
        for hit in hits[1:]:
            if (
                best.item.language is not request.language
                and hit.item.language is request.language
                and hit.score >= best.score - self._language_margin
                and hit.score >= self._min_confidence
            ):
                best = hit
                break
        return Answer(text=best.item.answer, sources=(best.item.id,), confidence=best.score)

    def status(self) -> ResponderStatus:
        """Always OK: nothing here can fail."""
        return ResponderStatus.OK


class FixedResponder:
    """Gives the same answer to every question, or fails every time: for tests and demos.

    Args:
        answer: What to answer; ignored when ``error`` is set.
        error: Raised on every call (e.g. an ExternalServiceError for a timeout).
    """

    def __init__(self, answer: Answer | None = None, *, error: Exception | None = None) -> None:
        self.answer_given = answer or Answer(text="OK", confidence=1.0)
        self.error = error
        self.requests: list[AnswerRequest] = []

    async def answer(self, request: AnswerRequest, *, on_text: TextSink | None = None) -> Answer:
        """Record the request, then answer or fail as configured."""
        self.requests.append(request)
        if self.error is not None:
            raise self.error
        return self.answer_given

    def status(self) -> ResponderStatus:
        """OK unless it is set to fail."""
        return ResponderStatus.OK if self.error is None else ResponderStatus.DEGRADED
