"""Knowledge gaps: what visitors asked that the knowledge base could not answer.

Every reply of the assistant stores its confidence and why it offered a human. A
visitor's message is a *gap* when the reply to it scored below the escalation
threshold, hedged, or failed; messages that only asked for a human or complained are
not gaps (no item would answer them). Gaps are grouped by meaning (`TextGrouper`),
largest group first: the items worth writing next.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

import attrs

from lucine_core.enums import EscalationReason, EventType, Sender
from lucine_core.messages import Message
from lucine_core.ports import UnitOfWork
from lucine_core.redact import mask_personal_data
from lucine_core.services.context import Services, transaction

__all__ = ["Gap", "GapGroup", "knowledge_gaps"]

_GAP_REASONS: Final = frozenset(
    {
        EscalationReason.LOW_CONFIDENCE.value,
        EscalationReason.REPLY_UNSURE.value,
        EscalationReason.RESPONDER_FAILED.value,
    }
)
_VISITOR_REASONS: Final = frozenset(
    {EscalationReason.VISITOR_ASKED.value, EscalationReason.VISITOR_UPSET.value}
)
_MAX_SESSIONS: Final = 2000
_EXAMPLES: Final = 5


@attrs.frozen(kw_only=True)
class Gap:
    """One visitor message the assistant could not answer well.

    Attributes:
        text: The message, personal data masked.
        at: When it was sent.
        session_id: Its chat.
        confidence: The reply's confidence.
    """

    text: str
    at: datetime
    session_id: str
    confidence: float


@attrs.frozen(kw_only=True)
class GapGroup:
    """Messages that ask the same thing.

    Attributes:
        count: How many.
        examples: Up to five of them, the most recent first.
        last_at: When the most recent was sent.
    """

    count: int
    examples: tuple[Gap, ...]
    last_at: datetime


def _is_gap(reply: Message, threshold: float) -> bool:
    if reply.sender is not Sender.BOT:
        return False
    reasons = set(reply.meta.escalation_reasons)
    if reasons & _VISITOR_REASONS:
        return False
    confidence = reply.meta.confidence
    return bool(reasons & _GAP_REASONS) or (confidence is not None and confidence < threshold)


def _gaps_of(messages: Sequence[Message], threshold: float) -> list[Gap]:
    gaps = []
    question: Message | None = None
    for message in messages:
        if message.sender is Sender.USER:
            question = message
        elif question is not None and _is_gap(message, threshold):
            gaps.append(
                Gap(
                    text=mask_personal_data(question.text),
                    at=question.at,
                    session_id=question.session_id,
                    confidence=message.meta.confidence or 0.0,
                )
            )
            question = None
        elif message.sender is Sender.BOT:
            question = None
    return gaps


async def knowledge_gaps(services: Services, *, days: int = 30, limit: int = 20) -> list[GapGroup]:
    """The visitor questions of the last ``days`` the assistant could not answer, grouped.

    Groups come most frequent first (then most recent); at most ``limit`` of them.
    """
    since = services.clock.now() - timedelta(days=days)
    threshold = services.policies.escalation.min_confidence

    async def read(uow: UnitOfWork) -> list[Gap]:
        answers = await uow.events.list(types=[EventType.KB_ANSWER], since=since)
        sessions = list(dict.fromkeys(e.session_id for e in reversed(answers) if e.session_id))
        gaps: list[Gap] = []
        for session_id in sessions[:_MAX_SESSIONS]:
            gaps += _gaps_of(await uow.messages.list(session_id), threshold)
        return [gap for gap in gaps if gap.at >= since]

    gaps = await transaction(services, read)
    if not gaps:
        return []
    groups = await services.grouper.group([gap.text for gap in gaps])
    result = []
    for indices in groups:
        members = sorted((gaps[i] for i in indices), key=lambda gap: gap.at, reverse=True)
        if members:
            result.append(
                GapGroup(
                    count=len(members), examples=tuple(members[:_EXAMPLES]), last_at=members[0].at
                )
            )
    result.sort(key=lambda group: (-group.count, -group.last_at.timestamp()))
    return result[:limit]
