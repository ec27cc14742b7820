"""A message retried with the same client message id is stored once, on the in-memory adapters."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from lucine_adapters.realtime import InMemoryEventPublisher
from lucine_adapters.responders import FixedResponder
from lucine_adapters.system import FixedClock
from lucine_core.enums import Sender, SessionStatus
from lucine_core.errors import ConflictError, ValidationError
from lucine_core.kb import Answer
from lucine_core.messages import Message
from lucine_core.ports import RealtimeEvent
from lucine_core.services import Services
from lucine_core.services.chat import poll, visitor_message
from lucine_core.services.conversation import operator_message
from lucine_core.services.handoff import take_chat
from lucine_core.services.retries import OPENING_ID_MIN_LENGTH
from lucine_core.services.sweep import sweep
from tests.conftest import make_operator

ANSWER = Answer(text="Apriamo alle nove.", sources=("orari",), confidence=0.9)
OPENING = "0b4c7f7e-3f1d-4d7b-9a51-5c2e8f6a9d10"  # a UUID, as the widget sends


def answering(services: Services, responder: FixedResponder) -> Services:
    """The same services (and data) answered by ``responder``."""
    return attrs.evolve(services, responder=responder)


def pushed(services: Services) -> list[RealtimeEvent]:
    """The realtime events published from the first call of this on."""
    publisher = services.publisher
    assert isinstance(publisher, InMemoryEventPublisher)
    publisher.keep_history = True
    return publisher.published


async def messages(services: Services, session_id: str) -> list[Message]:
    """Every message of the chat."""
    return list((await poll(services, session_id=session_id)).messages)


async def event_count(services: Services) -> int:
    """How many analytics events are stored."""
    async with services.uow() as uow:
        return len(await uow.events.list())


async def audit_count(services: Services) -> int:
    """How many audit lines are stored."""
    async with services.uow() as uow:
        return len(await uow.audit.list(limit=10_000))


async def chat_count(services: Services) -> int:
    """How many chats are stored."""
    async with services.uow() as uow:
        return len(await uow.sessions.list(limit=10_000))


async def chat(services: Services) -> str:
    """A chat the assistant holds, with its first exchange; returns its id."""
    return (await visitor_message(services, text="ciao", session_id=None)).session_id


async def test_a_retry_returns_the_stored_reply_and_asks_nobody(services: Services) -> None:
    """The retry gets the first call's reply; nothing is stored, asked, recorded or pushed."""
    responder = FixedResponder(ANSWER)
    services = answering(services, responder)
    sid = await chat(services)
    first = await visitor_message(
        services, text="a che ora aprite?", session_id=sid, client_message_id="m-1"
    )
    before = (await messages(services, sid), await event_count(services), len(responder.requests))
    published = len(pushed(services))
    again = await visitor_message(
        services, text="a che ora aprite?", session_id=sid, client_message_id="m-1"
    )
    assert again == first
    assert first.reply is not None
    assert first.reply.text == ANSWER.text
    assert first.sources == ("orari",)
    after = (await messages(services, sid), await event_count(services), len(responder.requests))
    assert after == before
    assert len(pushed(services)) == published
    assert [m.text for m in after[0]] == ["ciao", ANSWER.text, "a che ora aprite?", ANSWER.text]


async def test_a_retry_returns_the_offer_with_its_buttons(services: Services) -> None:
    """A retried request for a human gets the same offer, buttons and reasons, stored once."""
    sid = await chat(services)
    text = "voglio parlare con una persona"
    first = await visitor_message(services, text=text, session_id=sid, client_message_id="m-2")
    again = await visitor_message(services, text=text, session_id=sid, client_message_id="m-2")
    assert first.smart_actions
    assert first.escalation_reasons
    assert again == first
    assert [m.text for m in await messages(services, sid)].count(text) == 1


async def test_a_retry_after_the_answer_died_finds_no_reply_and_asks_nobody(
    services: Services,
) -> None:
    """The first attempt died unanswered: the retry says pending and takes no later reply."""
    sid = await chat(services)
    dying = answering(services, FixedResponder(error=RuntimeError("worker killed")))
    with pytest.raises(RuntimeError):
        await visitor_message(dying, text="dove siete?", session_id=sid, client_message_id="m-3")
    responder = FixedResponder(ANSWER)
    services = answering(services, responder)
    later = await visitor_message(services, text="a che ora aprite?", session_id=sid)
    assert later.reply is not None
    again = await visitor_message(
        services, text="dove siete?", session_id=sid, client_message_id="m-3"
    )
    assert again.reply is None
    assert again.reply_pending is True
    assert again.status is SessionStatus.ACTIVE
    assert again.visitor_seq == later.visitor_seq - 1
    assert len(responder.requests) == 1
    assert [m.text for m in await messages(services, sid)].count("dove siete?") == 1


async def test_a_retry_while_an_operator_holds_the_chat(services: Services) -> None:
    """A retry in a held chat answers as the first did (no reply, the operator), storing nothing."""
    operator_id = await make_operator(services, "giulia")
    sid = await chat(services)
    await take_chat(services, operator_id=operator_id, session_id=sid)
    first = await visitor_message(services, text="ci sei?", session_id=sid, client_message_id="m-4")
    before = (await messages(services, sid), await event_count(services))
    again = await visitor_message(services, text="ci sei?", session_id=sid, client_message_id="m-4")
    assert again == first
    assert again.reply is None
    assert again.reply_pending is False
    assert again.operator_name == "Giulia"
    assert (await messages(services, sid), await event_count(services)) == before


async def test_a_client_id_is_per_chat_and_each_new_id_is_a_new_message(
    services: Services,
) -> None:
    """The same id in another chat, or another id in this one, is a new message."""
    one, two = await chat(services), await chat(services)
    for sid in (one, two):
        await visitor_message(services, text="grazie", session_id=sid, client_message_id="same")
    await visitor_message(services, text="grazie", session_id=one, client_message_id="other")
    assert [m.text for m in await messages(services, one)].count("grazie") == 2
    assert [m.text for m in await messages(services, two)].count("grazie") == 1


async def test_an_id_reused_for_another_text_is_a_conflict(services: Services) -> None:
    """Reusing a client id for a different text is a ConflictError that stores nothing."""
    sid = await chat(services)
    await visitor_message(services, text="prima", session_id=sid, client_message_id="m-5")
    before = await messages(services, sid)
    with pytest.raises(ConflictError):
        await visitor_message(services, text="dopo", session_id=sid, client_message_id="m-5")
    assert await messages(services, sid) == before


@pytest.mark.parametrize("bad", ["", "a" * 65, "with space", "ünï", "a/b", "tail\n", "x;y"])
async def test_a_malformed_client_id_is_refused_before_anything_is_stored(
    services: Services, bad: str
) -> None:
    """An id that is not 1-64 of A-Za-z0-9_- is a ValidationError naming clientMessageId."""
    sid = await chat(services)
    before = await messages(services, sid)
    with pytest.raises(ValidationError) as refused:
        await visitor_message(services, text="ciao", session_id=sid, client_message_id=bad)
    assert refused.value.field == "clientMessageId"
    assert await messages(services, sid) == before


async def test_an_operator_retry_returns_the_stored_message(services: Services) -> None:
    """The operator's retried reply is the stored message; nothing is stored, audited or pushed."""
    operator_id = await make_operator(services, "giulia", capacity=3)
    services = answering(services, FixedResponder(ANSWER))
    sid = await chat(services)
    await take_chat(services, operator_id=operator_id, session_id=sid)
    first = await operator_message(
        services, operator_id=operator_id, session_id=sid, text="Eccomi", client_message_id="o-1"
    )
    before = (await messages(services, sid), await event_count(services))
    audited = await audit_count(services)
    published = len(pushed(services))
    again = await operator_message(
        services, operator_id=operator_id, session_id=sid, text="Eccomi", client_message_id="o-1"
    )
    assert again == first
    assert first.sender is Sender.OPERATOR
    assert first.client_message_id == "o-1"
    assert (await messages(services, sid), await event_count(services)) == before
    assert await audit_count(services) == audited
    assert len(pushed(services)) == published


async def test_an_operator_cannot_replay_another_operators_message(services: Services) -> None:
    """An id another operator used in the chat is a ConflictError, not their message."""
    giulia = await make_operator(services, "giulia")
    marco = await make_operator(services, "marco")
    sid = await chat(services)
    await take_chat(services, operator_id=giulia, session_id=sid)
    await operator_message(
        services, operator_id=giulia, session_id=sid, text="Eccomi", client_message_id="o-2"
    )
    with pytest.raises(ConflictError):
        await operator_message(
            services, operator_id=marco, session_id=sid, text="Eccomi", client_message_id="o-2"
        )


async def test_a_retried_first_message_finds_the_chat_it_opened(services: Services) -> None:
    """A first message resent without a sessionId gets its chat and reply; nothing is added."""
    responder = FixedResponder(ANSWER)
    services = answering(services, responder)
    first = await visitor_message(
        services, text="a che ora aprite?", session_id=None, client_message_id=OPENING
    )
    before = (await chat_count(services), await event_count(services), len(responder.requests))
    published = len(pushed(services))
    again = await visitor_message(
        services, text="a che ora aprite?", session_id=None, client_message_id=OPENING
    )
    assert again == first
    assert first.reply is not None
    assert first.reply.text == ANSWER.text
    assert (await chat_count(services), await event_count(services), len(responder.requests)) == (
        before
    )
    assert before[0] == 1
    assert len(pushed(services)) == published
    assert [m.text for m in await messages(services, first.session_id)] == [
        "a che ora aprite?",
        ANSWER.text,
    ]


async def test_a_first_message_with_a_short_id_is_not_matched_across_chats(
    services: Services,
) -> None:
    """A first message's id shorter than a chat key (a counter, say) opens a chat each time."""
    short = "m" * (OPENING_ID_MIN_LENGTH - 1)
    one = await visitor_message(services, text="ciao", session_id=None, client_message_id=short)
    two = await visitor_message(services, text="ciao", session_id=None, client_message_id=short)
    assert one.session_id != two.session_id
    assert await chat_count(services) == 2
    again = await visitor_message(
        services, text="ciao", session_id=one.session_id, client_message_id=short
    )
    assert again == one, "within its chat the short id still finds the message"


async def test_a_first_message_retried_too_late_is_a_conflict(
    services: Services, clock: FixedClock
) -> None:
    """After the retry window the id no longer finds its chat: a ConflictError, nothing stored."""
    await visitor_message(services, text="ciao", session_id=None, client_message_id=OPENING)
    clock.advance(services.policies.opening_retry_window - timedelta(seconds=1))
    await visitor_message(services, text="ciao", session_id=None, client_message_id=OPENING)
    clock.advance(timedelta(seconds=2))
    before = await event_count(services)
    with pytest.raises(ConflictError):
        await visitor_message(services, text="ciao", session_id=None, client_message_id=OPENING)
    assert (await chat_count(services), await event_count(services)) == (1, before)


async def test_a_first_message_id_reused_for_another_text_is_a_conflict(
    services: Services,
) -> None:
    """Another first message under a used chat key is a ConflictError, not the other chat."""
    await visitor_message(services, text="ciao", session_id=None, client_message_id=OPENING)
    with pytest.raises(ConflictError):
        await visitor_message(
            services, text="buongiorno", session_id=None, client_message_id=OPENING
        )
    assert await chat_count(services) == 1


async def test_a_retry_to_an_ended_chat_finds_the_chat_it_opened(
    services: Services, clock: FixedClock
) -> None:
    """A message to an ended chat opens a new one once: its retry finds that new chat."""
    old = await chat(services)
    clock.advance(timedelta(minutes=11))
    await sweep(services)
    clock.advance(timedelta(minutes=31))
    await sweep(services)
    assert (await poll(services, session_id=old)).status is SessionStatus.ENDED
    first = await visitor_message(
        services, text="sono tornato", session_id=old, client_message_id=OPENING
    )
    again = await visitor_message(
        services, text="sono tornato", session_id=old, client_message_id=OPENING
    )
    assert first.session_id != old
    assert again == first
    assert await chat_count(services) == 2
