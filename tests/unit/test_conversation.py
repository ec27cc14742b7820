"""Whole conversations through the use cases on the in-memory adapters."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import attrs
import pytest

from lucine_adapters.bootstrap import bootstrap_in_memory
from lucine_adapters.notify import InMemoryNotifier
from lucine_adapters.responders import FixedResponder
from lucine_adapters.system import FixedClock
from lucine_core.enums import Availability, EventType, Role, Sender, SessionStatus, TicketPriority
from lucine_core.errors import (
    ConflictError,
    ExternalServiceError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from lucine_core.services import Policies, Services
from lucine_core.services.analytics import stats
from lucine_core.services.chat import poll, rate_chat, smart_action, visitor_message
from lucine_core.services.conversation import (
    HISTORY_AUDIT_WINDOW,
    add_note,
    close_chat,
    hand_back,
    history,
    operator_message,
    transfer,
)
from lucine_core.services.handoff import request_operator, take_chat
from lucine_core.services.operators import set_availability
from lucine_core.services.privacy import audit_trail
from lucine_core.services.tickets import create_ticket_from_chat, create_ticket_from_widget
from tests.conftest import make_operator


def manual(services: Services) -> Services:
    """The same services with automatic assignment off (operators take chats by hand)."""
    return attrs.evolve(services, policies=attrs.evolve(services.policies, auto_assign=False))


async def test_known_question_is_answered_with_its_source(services: Services) -> None:
    """A question the sample KB covers is answered from it, citing the item, with no offer."""
    reply = await visitor_message(services, text="a che ora aprite?", session_id=None)
    assert reply.reply is not None
    assert reply.reply.sender is Sender.BOT
    assert reply.sources == ("orari",)
    assert reply.smart_actions == ()
    assert reply.status is SessionStatus.ACTIVE
    assert len(reply.session_id) >= 22


async def test_asking_for_a_human_offers_the_two_buttons(services: Services) -> None:
    """An explicit request for a person gets SÌ/NO smart actions in Italian."""
    reply = await visitor_message(services, text="voglio parlare con una persona", session_id=None)
    assert [a.action for a in reply.smart_actions] == ["request_operator", "continue_ai"]
    assert reply.smart_actions[0].text == "SÌ, CHIAMA OPERATORE"
    assert "visitor_asked" in reply.escalation_reasons


async def test_off_topic_question_escalates_instead_of_guessing(services: Services) -> None:
    """A question outside the KB gets no sources and the offer of a human."""
    reply = await visitor_message(
        services, text="qual è la capitale della Mongolia?", session_id=None
    )
    assert reply.sources == ()
    assert reply.smart_actions
    assert "low_confidence" in reply.escalation_reasons


async def test_continue_ai_suppresses_the_next_offer_only(services: Services) -> None:
    """After NO, CONTINUA CON AI the next weak answer offers nothing; the one after does."""
    first = await visitor_message(
        services, text="qual è la capitale della Mongolia?", session_id=None
    )
    sid = first.session_id
    await smart_action(services, session_id=sid, action="continue_ai")
    second = await visitor_message(
        services, text="come si coltivano le zucchine in vaso?", session_id=sid
    )
    assert second.smart_actions == ()
    third = await visitor_message(services, text="come si coltivano i pomodori?", session_id=sid)
    assert third.smart_actions
    assert "repeated_failure" in third.escalation_reasons


async def test_english_and_german_visitors_are_answered_in_their_language(
    services: Services,
) -> None:
    """Language is detected per message and the buttons follow it."""
    en = await visitor_message(services, text="I want to talk to a human please", session_id=None)
    assert en.language.value == "en"
    assert en.smart_actions[0].text == "YES, CALL AN OPERATOR"
    de = await visitor_message(
        services, text="Ich möchte mit einem Mitarbeiter sprechen", session_id=None
    )
    assert de.language.value == "de"
    assert de.smart_actions[1].text == "NEIN, WEITER MIT KI"


async def test_unknown_session_id_is_not_found(services: Services) -> None:
    """A session id the server never issued is refused, never adopted."""
    with pytest.raises(NotFoundError):
        await visitor_message(services, text="ciao", session_id="made-up-by-the-client")


@pytest.mark.parametrize("text", ["", "   ", "x" * 2001, "ciao\x00", "bad\x1bcode"])
async def test_bad_text_is_refused_and_nothing_stored(services: Services, text: str) -> None:
    """Empty, too long or control-character text raises ValidationError and stores nothing."""
    first = await visitor_message(services, text="ciao", session_id=None)
    with pytest.raises(ValidationError):
        await visitor_message(services, text=text, session_id=first.session_id)
    polled = await poll(services, session_id=first.session_id)
    assert [m.text for m in polled.messages if m.sender is Sender.USER] == ["ciao"]


async def test_failing_responder_keeps_the_message_and_offers_a_human(clock: FixedClock) -> None:
    """When the model fails the visitor's text is stored and a polite fallback offers help."""
    base = bootstrap_in_memory(clock=clock)
    failing = FixedResponder(error=ExternalServiceError(service="llm", reason="timeout"))
    services = attrs.evolve(base, responder=failing)
    reply = await visitor_message(services, text="quanto costa il biglietto?", session_id=None)
    assert reply.smart_actions
    assert "responder_failed" in reply.escalation_reasons
    polled = await poll(services, session_id=reply.session_id)
    assert polled.messages[0].text == "quanto costa il biglietto?"
    assert failing.requests, "the responder was asked"


async def test_nobody_online_offers_a_ticket_and_notifies(
    services: Services, notifier: InMemoryNotifier
) -> None:
    """With no operator online the visitor is offered the ticket form and the team is told."""
    reply = await visitor_message(services, text="voglio un operatore", session_id=None)
    outcome = await smart_action(services, session_id=reply.session_id, action="request_operator")
    assert outcome.outcome == "no_operator"  # type: ignore[union-attr]
    assert outcome.ticket_offered  # type: ignore[union-attr]
    assert [n.kind for n in notifier.sent] == ["no_operator_online"]
    ticket = await create_ticket_from_widget(
        services,
        session_id=reply.session_id,
        message="Vorrei cambiare data",
        email="Ada@Example.org",
    )
    assert ticket.contact.email == "ada@example.org"
    polled = await poll(services, session_id=reply.session_id)
    assert polled.messages[-1].meta.kind == "ticket_confirmation"
    assert ticket.id in polled.messages[-1].text


async def test_widget_ticket_needs_a_contact(services: Services) -> None:
    """A ticket from the widget without e-mail or phone is refused."""
    reply = await visitor_message(services, text="ciao", session_id=None)
    with pytest.raises(ValidationError):
        await create_ticket_from_widget(services, session_id=reply.session_id, message="aiuto")


CONFIRMATIONS = [
    ("ciao", {"email": "Ada@Example.org"}, "ada@example.org", "Richiesta n."),
    ("hello there", {"phone": "+39 333 123 4567"}, "+393331234567", "Request no."),
]


@pytest.mark.parametrize("case", CONFIRMATIONS, ids=["email-it", "phone-en"])
async def test_widget_ticket_confirmation_only_with_consent(
    services: Services, notifier: InMemoryNotifier, case: tuple[str, dict[str, str], str, str]
) -> None:
    """With consent the visitor alone gets a copy in their language; without, only the team."""
    text, contact, recipient, subject = case
    for confirm in (False, True):
        sid = (await visitor_message(services, text=text, session_id=None)).session_id
        notifier.sent.clear()
        ticket = await create_ticket_from_widget(
            services, session_id=sid, message="Vorrei cambiare data", confirm=confirm, **contact
        )
        kinds = [(n.kind, n.recipient) for n in notifier.sent]
        assert ("ticket_created", None) in kinds
        copies = [n for n in notifier.sent if n.kind == "ticket_confirmation"]
        if not confirm:
            assert copies == []
            continue
        assert [n.recipient for n in copies] == [recipient]
        assert copies[0].subject.startswith(subject)
        assert ticket.id in copies[0].subject
        assert "Vorrei cambiare data" in copies[0].body


async def test_a_failing_notifier_never_fails_the_ticket(
    services: Services, notifier: InMemoryNotifier
) -> None:
    """The notifier raising does not stop the ticket or its confirmation in the chat."""
    notifier.failing = True
    sid = (await visitor_message(services, text="ciao", session_id=None)).session_id
    ticket = await create_ticket_from_widget(
        services, session_id=sid, message="aiuto", email="ada@example.org", confirm=True
    )
    polled = await poll(services, session_id=sid)
    assert ticket.id in polled.messages[-1].text


async def test_whole_conversation_with_an_operator(services: Services) -> None:
    """Ask, escalate, queue, take, talk both ways, note, ticket, close, rate: all counted."""
    services = manual(services)
    ada = await make_operator(services, "ada")
    await set_availability(services, operator_id=ada, availability=Availability.ONLINE)

    first = await visitor_message(services, text="quanto costa il biglietto?", session_id=None)
    sid = first.session_id
    assert first.sources
    queued = await request_operator(services, session_id=sid)
    assert queued.outcome == "queued"
    assert queued.queue is not None
    assert queued.queue.position == 1

    await take_chat(services, operator_id=ada, session_id=sid)
    reply = await operator_message(
        services, operator_id=ada, session_id=sid, text="Ciao, sono Ada!"
    )
    polled = await poll(services, session_id=sid, after_seq=first.visitor_seq)
    assert polled.status is SessionStatus.WITH_OPERATOR
    assert polled.operator_name == "Ada"
    assert polled.messages[-1].id == reply.id

    held = await visitor_message(services, text="Grazie Ada, ho un problema col QR", session_id=sid)
    assert held.reply is None, "the assistant stays quiet while an operator holds the chat"

    note = await add_note(services, operator_id=ada, session_id=sid, text="Cliente VIP <b>")
    everything = await poll(services, session_id=sid)
    assert all(note.text not in m.text for m in everything.messages), (
        "notes never reach the visitor"
    )

    ticket = await create_ticket_from_chat(
        services,
        operator_id=ada,
        session_id=sid,
        subject="QR non valido",
        description="Da verificare",
        priority=TicketPriority.HIGH,
    )
    assert len(ticket.transcript) == 5
    after = await poll(services, session_id=sid)
    assert after.status is SessionStatus.RESOLVED
    await rate_chat(services, session_id=sid, rating=5, comment="Bravissimi")

    full = await history(services, operator_id=ada, session_id=sid)
    assert [n.text for n in full.notes] == [
        "Cliente VIP <b>",
        f"Ticket {ticket.id} created: QR non valido",
    ]
    assert {o.id for o in full.operators} == {ada}
    assert [c.to_status for c in full.changes] == [
        SessionStatus.WITH_OPERATOR,
        SessionStatus.RESOLVED,
    ]

    today = await stats(services)
    assert today.total_chats == 1
    assert today.escalated == 1
    assert today.satisfaction == 5.0
    assert today.avg_operator_first_response_s == 0.0
    async with services.uow() as uow:
        types = {e.type for e in await uow.events.list(session_id=sid)}
    assert {
        EventType.SESSION_STARTED,
        EventType.KB_ANSWER,
        EventType.ESCALATION_REQUEST,
        EventType.OPERATOR_CONNECTED,
        EventType.CHAT_STATUS_CHANGED,
        EventType.INTERNAL_NOTE_ADDED,
        EventType.TICKET_CREATED,
        EventType.TICKET_FROM_CHAT,
        EventType.CHAT_RESOLVED,
        EventType.FEEDBACK_GIVEN,
        EventType.CHAT_MESSAGE,
    } <= types

    admin = await make_operator(services, "root", role=Role.ADMIN)
    actions = [e.action.value for e in await audit_trail(services, actor_id=admin)]
    assert {"take_chat", "send_message", "add_note", "create_ticket", "view_history"} <= set(
        actions
    )


async def test_rereading_a_history_is_audited_once_per_window(
    services: Services, clock: FixedClock
) -> None:
    """Re-reading an open chat writes one view_history line per operator and window.

    Another operator, or the same one after the window, gets a line of their own.
    """
    ada = await make_operator(services, "ada")
    bob = await make_operator(services, "bob")
    root = await make_operator(services, "root", role=Role.ADMIN)
    sid = (await visitor_message(services, text="ciao", session_id=None)).session_id

    async def views() -> list[str]:
        trail = await audit_trail(services, actor_id=root)
        return [e.actor for e in trail if e.action.value == "view_history"]

    for _ in range(5):
        await history(services, operator_id=ada, session_id=sid)
        clock.advance(timedelta(seconds=3))
    await history(services, operator_id=bob, session_id=sid)
    assert sorted(await views()) == sorted([f"operator:{ada}", f"operator:{bob}"])
    clock.advance(HISTORY_AUDIT_WINDOW)
    await history(services, operator_id=ada, session_id=sid)
    assert sorted(await views()) == sorted([f"operator:{ada}"] * 2 + [f"operator:{bob}"])


async def test_second_take_is_a_conflict(services: Services) -> None:
    """Once a chat is taken, another operator's take raises ConflictError and changes nothing."""
    services = manual(services)
    ada, bob = await make_operator(services, "ada"), await make_operator(services, "bob")
    sid = (await visitor_message(services, text="ciao", session_id=None)).session_id
    await take_chat(services, operator_id=ada, session_id=sid)
    with pytest.raises(ConflictError):
        await take_chat(services, operator_id=bob, session_id=sid)
    assert (await poll(services, session_id=sid)).operator_name == "Ada"


async def test_twenty_concurrent_takes_have_one_winner(services: Services) -> None:
    """Twenty operators racing for one queued chat: exactly one wins, the rest get a conflict."""
    services = manual(services)
    ops = [await make_operator(services, f"op{n:02d}") for n in range(20)]
    for op in ops:
        await set_availability(services, operator_id=op, availability=Availability.ONLINE)
    sid = (await visitor_message(services, text="operatore per favore", session_id=None)).session_id
    await request_operator(services, session_id=sid)
    results = await asyncio.gather(
        *(take_chat(services, operator_id=op, session_id=sid) for op in ops), return_exceptions=True
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(r, ConflictError) for r in results if isinstance(r, BaseException))


async def test_only_the_holder_writes_and_admins_may_transfer(services: Services) -> None:
    """Another operator cannot write to a held chat; the holder or an admin can transfer it."""
    services = manual(services)
    ada, bob = await make_operator(services, "ada"), await make_operator(services, "bob")
    boss = await make_operator(services, "boss", role=Role.ADMIN)
    sid = (await visitor_message(services, text="ciao", session_id=None)).session_id
    await take_chat(services, operator_id=ada, session_id=sid)
    with pytest.raises(PermissionDeniedError):
        await operator_message(services, operator_id=bob, session_id=sid, text="intrusione")
    with pytest.raises(PermissionDeniedError):
        await transfer(services, actor_id=bob, session_id=sid, to_operator_id=bob)
    await transfer(services, actor_id=boss, session_id=sid, to_operator_id=bob)
    await operator_message(services, operator_id=bob, session_id=sid, text="Eccomi")
    await hand_back(services, actor_id=bob, session_id=sid)
    back = await visitor_message(services, text="a che ora aprite?", session_id=sid)
    assert back.reply is not None
    assert back.sources == ("orari",)


async def test_closed_chat_reopens_when_the_visitor_writes(services: Services) -> None:
    """A visitor writing to a RESOLVED chat reopens it for the assistant, with no operator."""
    services = manual(services)
    ada = await make_operator(services, "ada")
    sid = (await visitor_message(services, text="ciao", session_id=None)).session_id
    await take_chat(services, operator_id=ada, session_id=sid)
    await close_chat(services, actor_id=ada, session_id=sid, status=SessionStatus.RESOLVED)
    again = await visitor_message(services, text="parcheggio?", session_id=sid)
    assert again.status is SessionStatus.ACTIVE
    assert again.reply is not None
    bob = await make_operator(services, "bob")
    await take_chat(services, operator_id=bob, session_id=sid)


async def test_auto_assignment_hands_the_chat_to_an_online_operator(clock: FixedClock) -> None:
    """With round-robin on, a request is assigned at once to the ONLINE operator."""
    services = bootstrap_in_memory(clock=clock, policies=Policies(auto_assign=True))
    ada = await make_operator(services, "ada")
    await set_availability(services, operator_id=ada, availability=Availability.ONLINE)
    sid = (await visitor_message(services, text="voglio un operatore", session_id=None)).session_id
    outcome = await request_operator(services, session_id=sid)
    assert outcome.outcome == "assigned"
    assert outcome.operator_name == "Ada"
