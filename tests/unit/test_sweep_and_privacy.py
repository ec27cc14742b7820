"""Timeouts, SLA alerts, retention, export and erase, on the in-memory adapters."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from lucine_adapters.notify import InMemoryNotifier
from lucine_adapters.system import FixedClock
from lucine_core.enums import Availability, EventType, Role, Sender, SessionStatus
from lucine_core.errors import NotFoundError, PermissionDeniedError
from lucine_core.services import Services
from lucine_core.services.analytics import list_events, stats
from lucine_core.services.chat import poll, visitor_message
from lucine_core.services.handoff import request_operator, take_chat
from lucine_core.services.operators import set_availability
from lucine_core.services.privacy import (
    audit_trail,
    erase_contact,
    erase_session,
    export_contact,
    export_session,
    purge_expired,
)
from lucine_core.services.sweep import sweep
from lucine_core.services.tickets import create_ticket_from_widget
from tests.conftest import make_operator, minutes


@pytest.fixture
def manual_services(services: Services) -> Services:
    return attrs.evolve(services, policies=attrs.evolve(services.policies, auto_assign=False))


async def test_inactive_chat_goes_idle_then_ends(services: Services, clock: FixedClock) -> None:
    """ACTIVE goes IDLE after 10 silent minutes, and ENDS 30 minutes after that change."""
    sid = (await visitor_message(services, text="ciao", session_id=None)).session_id
    clock.advance(minutes(9))
    assert (await sweep(services)).idle == 0
    clock.advance(minutes(1))
    assert (await sweep(services)).idle == 1
    assert (await poll(services, session_id=sid)).status is SessionStatus.IDLE
    clock.advance(minutes(29))
    await sweep(services)
    assert (await poll(services, session_id=sid)).status is SessionStatus.IDLE
    clock.advance(minutes(1))
    assert (await sweep(services)).ended == 1
    assert (await poll(services, session_id=sid)).status is SessionStatus.ENDED
    again = await visitor_message(services, text="ciao di nuovo", session_id=sid)
    assert again.session_id != sid, "a message to an ENDED session starts a new one"


async def test_idle_visitor_coming_back_reactivates(services: Services, clock: FixedClock) -> None:
    """An IDLE chat becomes ACTIVE again when the visitor writes, recording chat_reactivated."""
    sid = (await visitor_message(services, text="ciao", session_id=None)).session_id
    clock.advance(minutes(12))
    await sweep(services)
    reply = await visitor_message(services, text="a che ora aprite?", session_id=sid)
    assert reply.status is SessionStatus.ACTIVE
    events = await list_events(services, event_type="chat_reactivated")
    assert [e.session_id for e in events] == [sid]


async def test_silent_visitor_with_operator_gets_waiting_client(
    manual_services: Services, clock: FixedClock
) -> None:
    """WITH_OPERATOR goes WAITING_CLIENT with a SYSTEM message and chat_timeout; a reply resumes."""
    services = manual_services
    ada = await make_operator(services, "ada")
    sid = (await visitor_message(services, text="ciao", session_id=None)).session_id
    await take_chat(services, operator_id=ada, session_id=sid)
    clock.advance(minutes(10))
    report = await sweep(services)
    assert report.waiting_client == 1
    polled = await poll(services, session_id=sid)
    assert polled.status is SessionStatus.WAITING_CLIENT
    assert polled.messages[-1].sender is Sender.SYSTEM
    assert polled.messages[-1].meta.kind == "timeout"
    assert [e.type for e in await list_events(services, event_type="chat_timeout")] == [
        EventType.CHAT_TIMEOUT
    ]
    back = await visitor_message(services, text="eccomi", session_id=sid)
    assert back.status is SessionStatus.WITH_OPERATOR


async def test_visitor_left_in_the_queue_is_abandoned(
    manual_services: Services, clock: FixedClock
) -> None:
    """A queued session that ENDS cancels its request and counts as abandoned."""
    services = manual_services
    ada = await make_operator(services, "ada")
    await set_availability(services, operator_id=ada, availability=Availability.ONLINE)
    sid = (await visitor_message(services, text="operatore", session_id=None)).session_id
    await request_operator(services, session_id=sid)
    clock.advance(minutes(15))
    assert (await sweep(services)).idle == 0, "a queued visitor is waiting on us, not idle"
    clock.advance(minutes(20))
    report = await sweep(services)
    assert (report.ended, report.abandoned) == (1, 1)
    assert (await stats(services)).abandoned == 1
    async with services.uow() as uow:
        assert await uow.queue.list_waiting() == []


async def test_sla_alerts_are_raised_once(
    manual_services: Services, clock: FixedClock, notifier: InMemoryNotifier
) -> None:
    """Queue-wait and first-response clocks warn at 80 %, breach past 100 %, each once."""
    services = manual_services
    ada = await make_operator(services, "ada")
    await set_availability(services, operator_id=ada, availability=Availability.ONLINE)
    sid = (await visitor_message(services, text="operatore", session_id=None)).session_id
    await request_operator(services, session_id=sid)
    clock.advance(timedelta(seconds=150))  # 83 % of the 3-minute queue target
    assert (await sweep(services)).sla_warnings == 1
    assert (await sweep(services)).sla_warnings == 0
    clock.advance(timedelta(seconds=40))
    assert (await sweep(services)).sla_breaches == 1
    assert (await sweep(services)).sla_breaches == 0
    await take_chat(services, operator_id=ada, session_id=sid)
    clock.advance(timedelta(seconds=31))
    assert (await sweep(services)).sla_breaches == 1
    kinds = [n.kind for n in notifier.sent]
    assert kinds.count("sla_breached") == 2
    breaches = await list_events(services, event_type="sla_breached")
    assert sorted(e.payload.target for e in breaches) == ["first_response", "queue_wait"]  # type: ignore[union-attr]


async def test_export_and_erase_a_session(services: Services) -> None:
    """An admin exports everything about a session, then erases it; the audit keeps only the act."""
    admin = await make_operator(services, "root", role=Role.ADMIN)
    sid = (await visitor_message(services, text="a che ora aprite?", session_id=None)).session_id
    exported = await export_session(services, actor_id=admin, session_id=sid)
    assert exported["messages"][0]["text"] == "a che ora aprite?"
    assert exported["session"]["id"] == sid
    assert exported["events"]
    removed = await erase_session(services, actor_id=admin, session_id=sid)
    assert removed >= 4
    with pytest.raises(NotFoundError):
        await poll(services, session_id=sid)
    async with services.uow() as uow:
        assert await uow.events.list(session_id=sid) == []
    trail = await audit_trail(services, actor_id=admin, subject=sid)
    assert [e.action.value for e in trail][:2] == ["erase", "export"]


async def test_export_and_erase_by_contact_email(services: Services) -> None:
    """All linked to a contact e-mail is exported, then erased; other visitors are untouched."""
    admin = await make_operator(services, "root", role=Role.ADMIN)
    mine = (await visitor_message(services, text="ciao", session_id=None)).session_id
    other = (await visitor_message(services, text="ciao", session_id=None)).session_id
    await create_ticket_from_widget(
        services, session_id=mine, message="Richiamatemi", email="ada@example.org"
    )
    await create_ticket_from_widget(
        services, session_id=other, message="Io no", email="bob@example.org"
    )
    exported = await export_contact(services, actor_id=admin, email="ADA@example.org")
    assert [t["contact"]["email"] for t in exported["tickets"]] == ["ada@example.org"]
    assert [s["session"]["id"] for s in exported["sessions"]] == [mine]
    await erase_contact(services, actor_id=admin, email="ada@example.org")
    with pytest.raises(NotFoundError):
        await poll(services, session_id=mine)
    assert (await poll(services, session_id=other)).messages


async def test_only_admins_export_or_erase(services: Services) -> None:
    """Operators without the admin role cannot export, erase or read the audit trail."""
    ada = await make_operator(services, "ada")
    sid = (await visitor_message(services, text="ciao", session_id=None)).session_id
    with pytest.raises(PermissionDeniedError):
        await export_session(services, actor_id=ada, session_id=sid)
    with pytest.raises(PermissionDeniedError):
        await erase_session(services, actor_id=ada, session_id=sid)
    with pytest.raises(PermissionDeniedError):
        await audit_trail(services, actor_id=ada)


async def test_retention_purges_old_data_only(services: Services, clock: FixedClock) -> None:
    """Chats older than 365 days and events older than 90 days go; recent ones stay."""
    old = (await visitor_message(services, text="ciao", session_id=None)).session_id
    clock.advance(timedelta(days=200))
    middle = (await visitor_message(services, text="ciao", session_id=None)).session_id
    clock.advance(timedelta(days=170))
    report = await purge_expired(services)
    assert report.sessions == 1
    assert report.events > 0
    with pytest.raises(NotFoundError):
        await poll(services, session_id=old)
    assert (await poll(services, session_id=middle)).messages
