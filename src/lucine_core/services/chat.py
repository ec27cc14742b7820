"""Visitor-side use cases: a message, a smart action, polling, rating.

A visitor's message is committed before the responder is asked anything, so a slow
or failing model can never lose it; the reply is stored in a second transaction,
and only if the chat is still the assistant's by then.
"""

from __future__ import annotations

import attrs

from lucine_core import escalation as esc
from lucine_core import events as ev
from lucine_core.actors import ASSISTANT, VISITOR
from lucine_core.enums import Language, Sender, Trigger
from lucine_core.errors import ValidationError
from lucine_core.kb import Answer, Turn
from lucine_core.language import detect_language
from lucine_core.messages import Message, MessageMeta, SmartActionView
from lucine_core.phrases import say
from lucine_core.ports import RealtimeEvent, UnitOfWork
from lucine_core.services.answering import compose_answer
from lucine_core.services.common import (
    OPERATORS_CHANNEL,
    add_message,
    message_event,
    queue_info,
    save_session,
    session_channel,
)
from lucine_core.services.context import Services, publish_all, transaction
from lucine_core.services.handoff import request_operator
from lucine_core.services.retries import opening_key, retried_visitor_message
from lucine_core.services.views import ChatReply, EscalationOutcome, PollResult, QueueInfo
from lucine_core.session import ChatSession
from lucine_core.text import check_client_message_id, clean_text

__all__ = ["continue_with_ai", "poll", "rate_chat", "smart_action", "visitor_message"]

_MAX_POLL = 200


@attrs.frozen(kw_only=True)
class _Context:
    """What answering a message needs, read in the transaction that stores it.

    Attributes:
        history: The earlier turns the responder sees.
        tokens_used: The model tokens the chat has used so far.
        queued: The chat waits in the queue for an operator.
        operator_name: Who holds the chat, when an operator does.
    """

    history: tuple[Turn, ...] = ()
    tokens_used: int = 0
    queued: bool = False
    operator_name: str | None = None


@attrs.frozen(kw_only=True)
class _Stored:
    session: ChatSession
    message: Message
    new: bool
    context: _Context = _Context()


async def visitor_message(
    services: Services,
    *,
    text: str,
    session_id: str | None,
    client_message_id: str | None = None,
) -> ChatReply:
    """Store the visitor's message, then answer it unless an operator holds the chat.

    A message sent again with the same ``client_message_id`` in the same session (a
    client retrying after a lost response) is not stored again: the call stores
    nothing, asks the responder nothing, records no event and returns what the first
    one stored, the reply as stored and the chat as it is now (see `replayed_reply`).
    If no reply is stored yet while the assistant holds the chat (the first request is
    still answering, or died doing so), it returns no reply with ``reply_pending``.
    A chat's first message, sent without ``session_id``, is matched by its id alone
    when the id is long enough to name the chat (see `lucine_core.services.retries`).

    Raises:
        ValidationError: the text is empty, too long or has control characters, or the
            client message id is not 1 to 64 letters, digits, ``_`` or ``-``.
        ConflictError: the session has a different message with that client message id,
            or the id opened a chat too long ago to be retried.
        NotFoundError: ``session_id`` is not a session this server issued.
    """
    text = clean_text(text)
    client_id = check_client_message_id(client_message_id)
    stored = await transaction(
        services, lambda uow: _store_visitor_message(uow, services, text, session_id, client_id)
    )
    if isinstance(stored, ChatReply):
        return stored
    session = stored.session
    await publish_all(
        services,
        [
            message_event(stored.message),
            RealtimeEvent(
                channel=OPERATORS_CHANNEL, kind="message", data={"sessionId": session.id}
            ),
        ],
    )
    if not session.allows(Trigger.ASSISTANT_ANSWERS):
        return ChatReply(
            session_id=session.id,
            status=session.status,
            reply=None,
            language=session.language,
            operator_name=stored.context.operator_name,
            visitor_seq=stored.message.seq,
        )
    return await _answer(services, stored, text)


async def _store_visitor_message(
    uow: UnitOfWork,
    services: Services,
    text: str,
    session_id: str | None,
    client_id: str | None,
) -> _Stored | ChatReply:
    now = services.clock.now()
    session = (
        await uow.sessions.get(session_id, for_update=True, history=False) if session_id else None
    )
    if client_id is not None:
        retried = await retried_visitor_message(uow, services, session, client_id, text)
        if retried is not None:
            return retried
    new = session is None or session.is_terminal
    if session is None or session.is_terminal:
        fallback = session.language if session else Language.IT
        session = ChatSession.start(
            session_id=services.ids.session_id(),
            language=detect_language(text, fallback),
            at=now,
            opening_client_message_id=opening_key(client_id),
        )
    else:
        session.visitor_writes(now)
        session.language = detect_language(text, session.language)
    context = _Context() if new else await _answer_context(uow, services, session)
    message = await add_message(
        uow, services, session, sender=Sender.USER, text=text, at=now, client_message_id=client_id
    )
    await save_session(uow, session, new=new)
    return _Stored(session=session, message=message, new=new, context=context)


async def _answer_context(uow: UnitOfWork, services: Services, session: ChatSession) -> _Context:
    # Read with the message stored (before it is added): one transaction instead of the
    # three a request took when each was read on its own.
    if not session.allows(Trigger.ASSISTANT_ANSWERS):
        operator = await uow.operators.get(session.operator_id) if session.operator_id else None
        return _Context(operator_name=operator.display_name if operator else None)
    earlier = await uow.messages.last(session.id, services.policies.history_turns)
    return _Context(
        history=tuple(Turn(sender=m.sender, text=m.text) for m in earlier),
        tokens_used=await uow.events.model_tokens(session.id),
        queued=await uow.queue.waiting_for(session.id) is not None,
    )


async def _answer(services: Services, stored: _Stored, text: str) -> ChatReply:
    started = services.clock.now()
    session, context = stored.session, stored.context
    queued = context.queued

    async def history() -> tuple[tuple[Turn, ...], int]:
        return context.history, context.tokens_used

    async def draft(piece: str) -> None:
        # The reply as the model writes it, for widgets listening on the chat's stream;
        # the stored message, sent once complete, replaces it.
        await services.publisher.publish(
            RealtimeEvent(channel=session_channel(session.id), kind="delta", data={"text": piece})
        )

    composed = await compose_answer(
        services,
        text=text,
        language=session.language,
        state=session.escalation,
        history=history,
        queued=queued,
        on_text=draft,
    )
    answer, decision = composed.answer, composed.decision
    offer = decision.offer and not queued
    actions = (
        tuple(
            SmartActionView(text=a.text, action=a.action)
            for a in esc.smart_actions(session.language)
        )
        if offer
        else ()
    )
    latency_ms = round((services.clock.now() - started).total_seconds() * 1000)
    return await _store_reply(
        services,
        session_id=session.id,
        answer=answer,
        decision=decision,
        actions=actions,
        latency_ms=latency_ms,
        seq=stored.message.seq,
    )


async def _store_reply(
    services: Services,
    *,
    session_id: str,
    answer: Answer,
    decision: esc.EscalationDecision,
    actions: tuple[SmartActionView, ...],
    latency_ms: int,
    seq: int,
) -> ChatReply:
    reasons = tuple(r.value for r in decision.reasons) if actions else ()

    async def work(uow: UnitOfWork) -> tuple[ChatSession, Message | None, QueueInfo | None]:
        session = await uow.sessions.get(session_id, for_update=True, history=False)
        queue = await queue_info(uow, services, session_id)
        if not session.allows(Trigger.ASSISTANT_ANSWERS):
            # An operator took over (or the chat closed) while the answer was written.
            return session, None, queue
        now = services.clock.now()
        session.apply(Trigger.ASSISTANT_ANSWERS, at=now, actor=ASSISTANT, reason="answer")
        session.escalation = decision.state
        meta = MessageMeta(
            smart_actions=actions,
            sources=answer.sources,
            confidence=answer.confidence,
            escalation_reasons=reasons,
            reply_to=seq,
        )
        message = await add_message(
            uow,
            services,
            session,
            sender=Sender.BOT,
            text=answer.text,
            at=now,
            meta=meta,
            response_ms=latency_ms,
        )
        session.record(
            ev.KbAnswer(
                sources=answer.sources,
                confidence=answer.confidence,
                latency_ms=latency_ms,
                escalation_offered=bool(actions),
                reasons=reasons,
                input_tokens=answer.input_tokens,
                output_tokens=answer.output_tokens,
            ),
            now,
        )
        await save_session(uow, session)
        return session, message, queue

    session, message, queue = await transaction(services, work)
    if message is not None:
        await publish_all(services, [message_event(message)])
    return ChatReply(
        session_id=session.id,
        status=session.status,
        reply=message,
        smart_actions=actions if message else (),
        sources=answer.sources if message else (),
        confidence=answer.confidence if message else None,
        language=session.language,
        escalation_reasons=reasons if message else (),
        queue=queue,
        visitor_seq=seq,
    )


async def smart_action(
    services: Services, *, session_id: str, action: str
) -> EscalationOutcome | ChatReply:
    """The visitor pressed a smart-action button.

    Raises:
        ValidationError: the action is not one the widget offers.
        NotFoundError: unknown session.
    """
    if action == esc.REQUEST_OPERATOR:
        await _record_click(services, session_id, action)
        return await request_operator(services, session_id=session_id, trigger="smart_action")
    if action == esc.CONTINUE_AI:
        return await continue_with_ai(services, session_id=session_id)
    raise ValidationError(field="action", reason="must be request_operator or continue_ai")


async def _record_click(services: Services, session_id: str, action: str) -> None:
    async def work(uow: UnitOfWork) -> None:
        session = await uow.sessions.get(session_id)
        session.record(ev.SmartActionClicked(action=action), services.clock.now())
        await uow.events.add(session.take_events())

    await transaction(services, work)


async def continue_with_ai(services: Services, *, session_id: str) -> ChatReply:
    """The visitor chose to go on with the assistant: no new offer on the next answer."""

    async def work(uow: UnitOfWork) -> tuple[ChatSession, Message]:
        session = await uow.sessions.get(session_id, for_update=True)
        now = services.clock.now()
        session.record(ev.SmartActionClicked(action=esc.CONTINUE_AI), now)
        if session.allows(Trigger.VISITOR_WRITES):
            session.apply(Trigger.VISITOR_WRITES, at=now, actor=VISITOR, reason="continue with AI")
        session.escalation = esc.after_continue_ai(session.escalation)
        text = say("continue_ai", session.language)
        message = await add_message(uow, services, session, sender=Sender.BOT, text=text, at=now)
        await save_session(uow, session)
        return session, message

    session, message = await transaction(services, work)
    await publish_all(services, [message_event(message)])
    return ChatReply(
        session_id=session.id, status=session.status, reply=message, language=session.language
    )


async def poll(services: Services, *, session_id: str, after_seq: int = 0) -> PollResult:
    """What the widget shows: new messages, the state, the operator, the queue position.

    Raises:
        NotFoundError: unknown session.
        ValidationError: ``after_seq`` is negative.
    """
    if after_seq < 0:
        raise ValidationError(field="since", reason="must not be negative")
    async with services.uow(read_only=True) as uow:
        session = await uow.sessions.get(session_id, history=False)
        messages = await uow.messages.list(session_id, after_seq=after_seq, limit=_MAX_POLL)
        operator = (
            await uow.operators.get(session.operator_id)
            if session.is_held and session.operator_id
            else None
        )
        queue = await queue_info(uow, services, session_id) if not session.is_held else None
    return PollResult(
        session_id=session.id,
        status=session.status,
        messages=messages,
        operator_name=operator.display_name if operator else None,
        queue=queue,
        last_seq=messages[-1].seq if messages else after_seq,
    )


async def rate_chat(
    services: Services, *, session_id: str, rating: int, comment: str | None = None
) -> None:
    """The visitor rates a closed chat from 1 to 5, with an optional comment.

    Raises:
        ValidationError: rating out of range or comment too long.
        IllegalTransitionError: the chat is not closed.
        NotFoundError: unknown session.
    """
    clean_comment = (
        clean_text(comment, field="comment", max_length=1000)
        if comment and comment.strip()
        else None
    )

    async def work(uow: UnitOfWork) -> None:
        session = await uow.sessions.get(session_id)
        session.rate(rating, clean_comment, services.clock.now())
        await save_session(uow, session)

    await transaction(services, work)
    await publish_all(
        services,
        [RealtimeEvent(channel=OPERATORS_CHANNEL, kind="rating", data={"sessionId": session_id})],
    )
