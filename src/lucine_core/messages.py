"""Chat messages and what rides along with them."""

from __future__ import annotations

from datetime import datetime

import attrs

from lucine_core.enums import Sender

__all__ = ["Message", "MessageMeta", "SmartActionView"]


@attrs.frozen(kw_only=True)
class SmartActionView:
    """A button offered under a message: its label and the action id it sends back."""

    text: str
    action: str


@attrs.frozen(kw_only=True)
class MessageMeta:
    """Details a message carries besides its text (v2.7's ``metadata``).

    ``reply_to`` is the seq of the visitor message an assistant reply answers: a
    retried message finds its reply by it even when other messages came in between.
    """

    operator_name: str | None = None
    smart_actions: tuple[SmartActionView, ...] = ()
    sources: tuple[str, ...] = ()
    confidence: float | None = None
    escalation_reasons: tuple[str, ...] = ()
    timeout_reason: str | None = None
    kind: str | None = None
    reply_to: int | None = None


@attrs.frozen(kw_only=True)
class Message:
    """One message of a session, numbered 1, 2, 3 ... without gaps within the session.

    Attributes:
        id: Unique id.
        session_id: The session it belongs to.
        seq: Position in the session, from 1.
        sender: Who wrote it.
        text: Stored as typed; escaped wherever it is rendered.
        at: When it was stored.
        operator_id: The writing operator, for OPERATOR messages.
        meta: Smart actions, sources, operator name, timeout reason.
        client_message_id: The id the sending client gave it, unique within the
            session; a retry with the same id finds this message instead of adding one.
    """

    id: str
    session_id: str
    seq: int
    sender: Sender
    text: str
    at: datetime
    operator_id: str | None = None
    meta: MessageMeta = MessageMeta()
    client_message_id: str | None = None
