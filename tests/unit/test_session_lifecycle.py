"""A stateful Hypothesis test driving whole sessions through every use case and clock jumps."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any, TypeVar

import attrs
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule

from lucine_adapters.bootstrap import bootstrap_in_memory
from lucine_adapters.system import FixedClock
from lucine_core.enums import Availability, EventType, QueueStatus, Sender, SessionStatus
from lucine_core.errors import LucineError
from lucine_core.services.chat import rate_chat, smart_action, visitor_message
from lucine_core.services.conversation import close_chat, hand_back, operator_message, transfer
from lucine_core.services.handoff import request_operator, take_chat
from lucine_core.services.operators import create_operator, set_availability
from lucine_core.services.sweep import sweep
from lucine_core.states import TRANSITIONS

T = TypeVar("T")
ALLOWED_CHANGES = {(state, target) for (state, _), target in TRANSITIONS.items()}
PHRASES = [
    "a che ora aprite?",
    "voglio parlare con un operatore",
    "quanto costa il biglietto?",
    "qual è la capitale della Mongolia?",
    "ciao",
    "how much are tickets?",
    "il mio QR non funziona, è una vergogna",
]


class SessionLifecycle(RuleBasedStateMachine):
    """Random visitors, operators and clock jumps; the invariants hold after every step."""

    sessions = Bundle("sessions")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.clock = FixedClock()
        auto = bootstrap_in_memory(clock=self.clock)
        self.services = attrs.evolve(auto, policies=attrs.evolve(auto.policies, auto_assign=False))
        self.operators: list[str] = []
        self.written: dict[str, list[str]] = {}
        self.ended: set[str] = set()

    def run(self, coro: Coroutine[Any, Any, T]) -> T | None:
        try:
            return self.loop.run_until_complete(coro)
        except LucineError:
            return None  # refused moves (conflicts, illegal transitions) are part of the game

    def teardown(self) -> None:
        self.loop.close()

    @initialize()
    def make_operators(self) -> None:
        for name in ("ada", "bob", "eve"):
            view = self.run(
                create_operator(
                    self.services,
                    actor_id=None,
                    username=name,
                    display_name=name,
                    password="a long enough test passphrase",
                )
            )
            assert view is not None
            self.operators.append(view.id)
            self.run(
                set_availability(
                    self.services, operator_id=view.id, availability=Availability.ONLINE
                )
            )

    @rule(target=sessions, text=st.sampled_from(PHRASES))
    def new_visitor(self, text: str) -> str:
        reply = self.run(visitor_message(self.services, text=text, session_id=None))
        assert reply is not None
        self.written[reply.session_id] = [text]
        return reply.session_id

    @rule(target=sessions, sid=sessions, text=st.sampled_from(PHRASES))
    def visitor_writes(self, sid: str, text: str) -> str:
        reply = self.run(visitor_message(self.services, text=text, session_id=sid))
        assert reply is not None, "a visitor's valid message is never refused"
        self.written.setdefault(reply.session_id, []).append(text)
        if reply.session_id != sid:
            assert sid in self.ended, "only an ENDED session hands over to a new one"
        return reply.session_id

    @rule(sid=sessions, action=st.sampled_from(["request_operator", "continue_ai"]))
    def click(self, sid: str, action: str) -> None:
        self.run(smart_action(self.services, session_id=sid, action=action))

    @rule(sid=sessions)
    def ask_for_human(self, sid: str) -> None:
        self.run(request_operator(self.services, session_id=sid))

    @rule(sid=sessions, op=st.integers(0, 2))
    def take(self, sid: str, op: int) -> None:
        self.run(take_chat(self.services, operator_id=self.operators[op], session_id=sid))

    @rule(sid=sessions, op=st.integers(0, 2))
    def operator_writes(self, sid: str, op: int) -> None:
        self.run(
            operator_message(
                self.services, operator_id=self.operators[op], session_id=sid, text="Eccomi"
            )
        )

    @rule(sid=sessions, op=st.integers(0, 2), to=st.integers(0, 2))
    def transfer_chat(self, sid: str, op: int, to: int) -> None:
        self.run(
            transfer(
                self.services,
                actor_id=self.operators[op],
                session_id=sid,
                to_operator_id=self.operators[to],
            )
        )

    @rule(sid=sessions, op=st.integers(0, 2))
    def hand_back_chat(self, sid: str, op: int) -> None:
        self.run(hand_back(self.services, actor_id=self.operators[op], session_id=sid))

    @rule(
        sid=sessions,
        op=st.integers(0, 2),
        status=st.sampled_from(
            [SessionStatus.RESOLVED, SessionStatus.NOT_RESOLVED, SessionStatus.CANCELLED]
        ),
    )
    def close(self, sid: str, op: int, status: SessionStatus) -> None:
        self.run(
            close_chat(self.services, actor_id=self.operators[op], session_id=sid, status=status)
        )

    @rule(sid=sessions, rating=st.integers(0, 6))
    def rate(self, sid: str, rating: int) -> None:
        self.run(rate_chat(self.services, session_id=sid, rating=rating))

    @rule(minutes=st.sampled_from([1, 5, 9, 10, 11, 25, 31, 45]))
    def time_passes(self, minutes: int) -> None:
        self.clock.advance(timedelta(minutes=minutes))
        self.run(sweep(self.services))

    async def _snapshot(self) -> tuple[list[Any], dict[str, list[Any]], list[Any], list[Any]]:
        async with self.services.uow() as uow:
            sessions = list(await uow.sessions.list(limit=10_000))
            messages = {s.id: list(await uow.messages.list(s.id)) for s in sessions}
            queue = list(uow.queue._t.queue.values())  # type: ignore[attr-defined]  # whole-table check
            events = list(
                await uow.events.list(
                    types=[EventType.CHAT_STATUS_CHANGED, EventType.OPERATOR_CONNECTED]
                )
            )
        return sessions, messages, queue, events

    @invariant()
    def rules_hold(self) -> None:
        sessions, messages, queue, events = self.loop.run_until_complete(self._snapshot())
        changed: dict[str | None, int] = {}
        queued_takes: dict[str | None, int] = {}
        for event in events:
            if event.type is EventType.CHAT_STATUS_CHANGED:
                changed[event.session_id] = changed.get(event.session_id, 0) + 1
            elif getattr(event.payload, "queue_seconds", None) is not None:
                queued_takes[event.session_id] = queued_takes.get(event.session_id, 0) + 1
        for session in sessions:
            assert session.status in SessionStatus
            for change in session.history:
                assert (change.from_status, change.to_status) in ALLOWED_CHANGES
            if session.id in self.ended:
                assert session.status is SessionStatus.ENDED, "ENDED is terminal"
            if session.status is SessionStatus.ENDED:
                self.ended.add(session.id)
            assert (session.operator_id is not None) or not session.is_held, (
                "a held chat has its operator"
            )
            assert changed.get(session.id, 0) == len(session.history), (
                "every change emitted chat_status_changed"
            )
            users = [m.text for m in messages[session.id] if m.sender is Sender.USER]
            assert users == self.written.get(session.id, []), "nothing a visitor wrote is lost"
            assert [m.seq for m in messages[session.id]] == list(
                range(1, session.message_count + 1)
            )
        waiting: dict[str, int] = {}
        assigned: dict[str | None, int] = {}
        for entry in queue:
            if entry.status is QueueStatus.WAITING:
                waiting[entry.session_id] = waiting.get(entry.session_id, 0) + 1
            if entry.status is QueueStatus.ASSIGNED:
                assert entry.operator_id is not None
                assigned[entry.session_id] = assigned.get(entry.session_id, 0) + 1
        assert assigned == queued_takes, "each queue entry was assigned by exactly one take"
        assert all(count == 1 for count in waiting.values()), "one waiting request per session"


SessionLifecycle.TestCase.settings = settings(stateful_step_count=30, deadline=None)
test_session_lifecycle = SessionLifecycle.TestCase
