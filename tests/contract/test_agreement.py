"""Stateful agreement: the same use cases on the in-memory and the SQL adapters read the same.

Hypothesis drives visitors, operators and the clock through both products in lockstep
(same clock, same ids) and after every step compares everything each database holds.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from lucine_adapters.bootstrap import bootstrap_in_memory
from lucine_adapters.memory import InMemoryDatabase
from lucine_adapters.sql.database import SqlDatabase, make_engine, sqlite_url
from lucine_adapters.system import FixedClock, FixedIdFactory
from lucine_core.enums import Availability, SessionStatus
from lucine_core.errors import LucineError
from lucine_core.ports import UnitOfWorkFactory
from lucine_core.services import Policies, Services
from lucine_core.services.chat import smart_action, visitor_message
from lucine_core.services.conversation import add_note, close_chat, hand_back, operator_message
from lucine_core.services.handoff import take_chat
from lucine_core.services.operators import create_operator, set_availability
from lucine_core.services.privacy import to_jsonable
from lucine_core.services.sweep import sweep
from lucine_core.services.tickets import create_ticket_from_widget
from tests.lengths import repetitions

PHRASES = ["a che ora aprite?", "voglio un operatore", "parcheggio", "how much?", "ciao"]


async def snapshot(uow_factory: UnitOfWorkFactory) -> dict[str, Any]:
    """Everything stored, in a comparable form (store-assigned event and audit ids left out)."""
    async with uow_factory() as uow:
        sessions = await uow.sessions.list(limit=10_000)
        data: dict[str, Any] = {"sessions": to_jsonable(list(sessions))}
        data["messages"] = {
            s.id: to_jsonable(list(await uow.messages.list(s.id))) for s in sessions
        }
        data["notes"] = {s.id: to_jsonable(list(await uow.notes.list(s.id))) for s in sessions}
        data["waiting"] = to_jsonable(list(await uow.queue.list_waiting()))
        data["loads"] = dict(await uow.sessions.loads())
        data["counts"] = {k.value: v for k, v in (await uow.sessions.count_by_status()).items()}
        data["operators"] = [  # bcrypt salts are random: hashes differ by design
            {k: v for k, v in o.items() if k != "password_hash"}
            for o in to_jsonable(list(await uow.operators.list()))
        ]
        data["tickets"] = to_jsonable(list(await uow.tickets.list(limit=10_000)))
        data["events"] = [
            {k: v for k, v in e.items() if k != "id"}
            for e in to_jsonable(list(await uow.events.list()))
        ]
        data["audit"] = [
            {k: v for k, v in e.items() if k != "id"}
            for e in to_jsonable(list(await uow.audit.list(limit=10_000)))
        ]
    return data


class Agreement(RuleBasedStateMachine):
    """Two products, one memory-backed and one SQL-backed, driven identically."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.folder = tempfile.TemporaryDirectory(prefix="lucine-agree-")
        sql = SqlDatabase(make_engine(sqlite_url(Path(self.folder.name) / "agree.sqlite3")))
        self.loop.run_until_complete(sql.create_schema())
        self.sql = sql
        self.products = [self._product(InMemoryDatabase()), self._product(sql)]
        self.sessions: list[str] = []
        self.operators: list[str] = []

    @staticmethod
    def _product(uow: UnitOfWorkFactory) -> Services:
        base = bootstrap_in_memory(clock=FixedClock(), policies=Policies(auto_assign=True))
        return attrs.evolve(base, uow=uow, ids=FixedIdFactory())

    def both(self, make: Any) -> list[Any]:
        """Run ``make(services)`` on both products; both must succeed or fail alike."""
        outcomes = []
        for services in self.products:
            coro: Coroutine[Any, Any, Any] = make(services)
            try:
                outcomes.append(("ok", self.loop.run_until_complete(coro)))
            except LucineError as error:
                outcomes.append(("error", type(error).__name__))
        assert outcomes[0][0] == outcomes[1][0], outcomes
        if outcomes[0][0] == "error":
            assert outcomes[0][1] == outcomes[1][1], outcomes
        return outcomes

    def teardown(self) -> None:
        self.loop.run_until_complete(self.sql.dispose())
        self.loop.close()
        self.folder.cleanup()

    @initialize()
    def operators_online(self) -> None:
        for name in ("ada", "bob"):
            results = self.both(
                lambda s, n=name: create_operator(
                    s,
                    actor_id=None,
                    username=n,
                    display_name=n.title(),
                    password="a long enough test passphrase",
                )
            )
            self.operators.append(results[0][1].id)
        for op in self.operators:
            self.both(
                lambda s, o=op: set_availability(s, operator_id=o, availability=Availability.ONLINE)
            )

    @rule(text=st.sampled_from(PHRASES))
    def new_visitor(self, text: str) -> None:
        results = self.both(lambda s: visitor_message(s, text=text, session_id=None))
        self.sessions.append(results[0][1].session_id)

    @precondition(lambda self: self.sessions)
    @rule(data=st.data(), text=st.sampled_from(PHRASES))
    def visitor_writes(self, data: st.DataObject, text: str) -> None:
        sid = data.draw(st.sampled_from(self.sessions))
        results = self.both(lambda s: visitor_message(s, text=text, session_id=sid))
        if results[0][0] == "ok" and results[0][1].session_id not in self.sessions:
            self.sessions.append(results[0][1].session_id)

    @precondition(lambda self: self.sessions)
    @rule(data=st.data(), action=st.sampled_from(["request_operator", "continue_ai"]))
    def click(self, data: st.DataObject, action: str) -> None:
        sid = data.draw(st.sampled_from(self.sessions))
        self.both(lambda s: smart_action(s, session_id=sid, action=action))

    @precondition(lambda self: self.sessions)
    @rule(data=st.data(), op=st.integers(0, 1))
    def operator_acts(self, data: st.DataObject, op: int) -> None:
        sid = data.draw(st.sampled_from(self.sessions))
        operator = self.operators[op]
        act = data.draw(st.sampled_from(["take", "write", "note", "hand_back", "close"]))
        calls = {
            "take": lambda s: take_chat(s, operator_id=operator, session_id=sid),
            "write": lambda s: operator_message(
                s, operator_id=operator, session_id=sid, text="Eccomi"
            ),
            "note": lambda s: add_note(s, operator_id=operator, session_id=sid, text="nota"),
            "hand_back": lambda s: hand_back(s, actor_id=operator, session_id=sid),
            "close": lambda s: close_chat(
                s, actor_id=operator, session_id=sid, status=SessionStatus.RESOLVED
            ),
        }
        self.both(calls[act])

    @precondition(lambda self: self.sessions)
    @rule(data=st.data())
    def leave_ticket(self, data: st.DataObject) -> None:
        sid = data.draw(st.sampled_from(self.sessions))
        self.both(
            lambda s: create_ticket_from_widget(
                s, session_id=sid, message="Richiamatemi", email="a@b.it"
            )
        )

    @rule(minutes=st.sampled_from([1, 4, 10, 31]))
    def time_passes(self, minutes: int) -> None:
        for services in self.products:
            assert isinstance(services.clock, FixedClock)
            services.clock.advance(timedelta(minutes=minutes))
        self.both(sweep)

    @invariant()
    def every_read_agrees(self) -> None:
        memory, sql = (self.loop.run_until_complete(snapshot(p.uow)) for p in self.products)
        for key in memory:
            assert memory[key] == sql[key], key


@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_memory_and_sqlite_agree() -> None:
    """Every read of the in-memory and the SQLite adapters agrees after every step."""
    # Each example builds two products and a SQLite file: fewer, longer runs than elsewhere.
    examples = repetitions("LUCINE_AGREEMENT_EXAMPLES", dev=15, ci=50, stress=300)
    Agreement.TestCase.settings = settings(
        max_examples=examples, stateful_step_count=25, deadline=None
    )
    Agreement.TestCase().runTest()
