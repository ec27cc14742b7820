"""A client's retried message: what the first attempt stored, found instead of stored again.

A client that lost the response to a message (a dropped connection, a killed worker)
cannot know whether it was stored, so it sends it again with the same client message
id. The id is unique within a session (the stores refuse a second message with it), and
the use cases look it up first, under the session's row lock: a retry, or a duplicate
racing the first request, finds the stored message and writes nothing, asks the
responder nothing and records no event.

A chat's first message is sent without a session id, so its retry cannot be matched in
a session. An id of at least OPENING_ID_MIN_LENGTH characters (22 random base64url
characters hold 132 bits; a UUID has 36) also names the chat that message opens: it is
stored on the session, unique among all sessions, and a retry without a session id (or
with the ended chat's id that made a new one) finds the chat by it for
``opening_retry_window``. A shorter id (a counter, say) could be any other visitor's
too, and handing a stranger's chat over on a guess is worse than a duplicate: such a
first message is not matched.
"""

from __future__ import annotations

from lucine_core.enums import Sender, Trigger
from lucine_core.errors import ConflictError
from lucine_core.messages import Message, MessageMeta
from lucine_core.ports import UnitOfWork
from lucine_core.services.common import queue_info
from lucine_core.services.context import Services
from lucine_core.services.views import ChatReply
from lucine_core.session import ChatSession

__all__ = [
    "OPENING_ID_MIN_LENGTH",
    "find_retried",
    "opening_key",
    "replayed_reply",
    "retried_visitor_message",
]

OPENING_ID_MIN_LENGTH = 22
"""The shortest client message id that also names the chat its message opens."""


def opening_key(client_message_id: str | None) -> str | None:
    """The id to store as the new chat's ``opening_client_message_id``, if it is long enough."""
    if client_message_id is None or len(client_message_id) < OPENING_ID_MIN_LENGTH:
        return None
    return client_message_id


async def retried_visitor_message(
    uow: UnitOfWork,
    services: Services,
    session: ChatSession | None,
    client_message_id: str,
    text: str,
) -> ChatReply | None:
    """The answer to a visitor message that is a retry, or None if it is a new message.

    ``session`` is the chat the visitor named (locked), None without a session id. The
    message is looked up in it, then, if it would open a new chat, among the chats that
    a first message opened with that id.

    Raises:
        ConflictError: the id was used for a different message, or opened a chat longer
            ago than ``opening_retry_window``.
    """
    if session is not None:
        earlier = await find_retried(
            uow, session.id, client_message_id, sender=Sender.USER, text=text
        )
        if earlier is not None:
            return await replayed_reply(uow, services, session, earlier)
        if not session.is_terminal:
            return None
    key = opening_key(client_message_id)
    opened = await uow.sessions.find_opened_by(key) if key else None
    if opened is None:
        return None
    if opened.created_at < services.clock.now() - services.policies.opening_retry_window:
        raise ConflictError(reason="clientMessageId opened a chat too long ago to be retried")
    earlier = await find_retried(uow, opened.id, client_message_id, sender=Sender.USER, text=text)
    if earlier is None:
        raise ConflictError(reason="clientMessageId was already used for a different message")
    return await replayed_reply(uow, services, opened, earlier)


async def find_retried(
    uow: UnitOfWork,
    session_id: str,
    client_message_id: str,
    *,
    sender: Sender,
    text: str,
    operator_id: str | None = None,
) -> Message | None:
    """The message stored earlier in the session with this client id, if any.

    Raises:
        ConflictError: the id was used for a different message (another text, sender or
            operator): a client bug that a silent replay would hide.
    """
    earlier = await uow.messages.find_by_client_id(session_id, client_message_id)
    if earlier is None:
        return None
    if earlier.sender is not sender or earlier.text != text or earlier.operator_id != operator_id:
        raise ConflictError(reason="clientMessageId was already used for a different message")
    return earlier


async def replayed_reply(
    uow: UnitOfWork, services: Services, session: ChatSession, message: Message
) -> ChatReply:
    """The answer to a retried visitor ``message``: its stored reply, the chat as it is now.

    The reply is the assistant message whose ``meta.reply_to`` is the message's seq
    (the reply is stored in its own transaction, so other messages may come between).
    Without one, ``reply`` is None and ``reply_pending`` says whether the assistant holds
    the chat, so a reply may still come (by poll and stream, like any new message).
    """
    later = await uow.messages.list(session.id, after_seq=message.seq)
    reply = next(
        (m for m in later if m.sender is Sender.BOT and m.meta.reply_to == message.seq), None
    )
    operator = (
        await uow.operators.get(session.operator_id)
        if session.is_held and session.operator_id
        else None
    )
    meta = reply.meta if reply else MessageMeta()
    return ChatReply(
        session_id=session.id,
        status=session.status,
        reply=reply,
        smart_actions=meta.smart_actions,
        sources=meta.sources,
        confidence=meta.confidence,
        language=session.language,
        escalation_reasons=meta.escalation_reasons,
        queue=None if session.is_held else await queue_info(uow, services, session.id),
        operator_name=operator.display_name if operator else None,
        visitor_seq=message.seq,
        reply_pending=reply is None and session.allows(Trigger.ASSISTANT_ANSWERS),
    )
