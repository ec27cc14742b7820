"""Exactly one owner and no lost message under real concurrency, on every adapter.

On Postgres every task has its own connection from the pool, so the races are real;
SQLite serialises writers (BEGIN IMMEDIATE) and the in-memory adapter serialises units
of work: the same use-case code must be right on all three. On Postgres each race runs
LUCINE_RACE_RUNS times in a row (5 under CI=true, 50 in `nox -s stress`, 3 otherwise),
each on an emptied database; on the serialising adapters 3 times.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import attrs
import pytest

from lucine_adapters.bootstrap import bootstrap_in_memory
from lucine_adapters.system import SystemClock
from lucine_core.enums import Availability, EventType, Sender, SessionStatus
from lucine_core.errors import ConflictError
from lucine_core.ports import UnitOfWorkFactory
from lucine_core.services import Policies, Services
from lucine_core.services.chat import poll, visitor_message
from lucine_core.services.conversation import operator_message
from lucine_core.services.handoff import request_operator, take_chat
from lucine_core.services.operators import create_operator, set_availability
from tests.contract.conftest import AdapterOpener
from tests.lengths import repetitions

POSTGRES_RUNS = repetitions("LUCINE_RACE_RUNS", dev=3, ci=5, stress=50)


def runs(request: pytest.FixtureRequest) -> range:
    """How many times to repeat a race on this test's adapter."""
    return range(POSTGRES_RUNS if request.node.callspec.params["adapter"] == "postgres" else 3)


PASSWORD = "a long enough test passphrase"


def services_on(uow: UnitOfWorkFactory) -> Services:
    """The product over this database, operators taking chats by hand."""
    return attrs.evolve(
        bootstrap_in_memory(clock=SystemClock(), policies=Policies(auto_assign=False)), uow=uow
    )


async def online_operators(services: Services, count: int) -> list[str]:
    ids = []
    for n in range(count):
        view = await create_operator(
            services,
            actor_id=None,
            username=f"op{n:02d}",
            display_name=f"Op {n}",
            password=PASSWORD,
        )
        await set_availability(services, operator_id=view.id, availability=Availability.ONLINE)
        ids.append(view.id)
    return ids


async def test_twenty_takers_one_winner(
    adapter: AdapterOpener, request: pytest.FixtureRequest
) -> None:
    """20 operators take one waiting chat at once: one wins, 19 get ConflictError, one owner."""
    for run in runs(request):
        async with adapter() as database:
            await _twenty_takers(database, run)


async def _twenty_takers(database: UnitOfWorkFactory, run: int) -> None:
    services = services_on(database)
    operators = await online_operators(services, 20)
    reply = await visitor_message(services, text="operatore per favore", session_id=None)
    sid = reply.session_id
    await request_operator(services, session_id=sid)
    results = await asyncio.gather(
        *(take_chat(services, operator_id=op, session_id=sid) for op in operators),
        return_exceptions=True,
    )
    won = [r for r in results if not isinstance(r, BaseException)]
    lost = [r for r in results if isinstance(r, BaseException)]
    assert len(won) == 1, f"run {run}: {len(won)} winners"
    assert all(isinstance(e, ConflictError) for e in lost), {type(e).__name__ for e in lost}
    async with database() as uow:
        session = await uow.sessions.get(sid)
        connected = await uow.events.list(types=[EventType.OPERATOR_CONNECTED], session_id=sid)
        assert await uow.queue.list_waiting() == []
    assert session.status is SessionStatus.WITH_OPERATOR
    assert session.operator_id in operators
    assert len(connected) == 1


async def test_two_operators_race_through_the_queue(
    adapter: AdapterOpener, request: pytest.FixtureRequest
) -> None:
    """Two operators grabbing 200 waiting chats: each chat ends with exactly one, none is lost."""
    for run in runs(request):
        async with adapter() as database:
            await _race_through_queue(database, run)


async def _grab(services: Services, operator_id: str, order: list[str]) -> list[str]:
    taken = []
    for sid in order:
        try:
            await take_chat(services, operator_id=operator_id, session_id=sid)
        except ConflictError:
            continue
        taken.append(sid)
    return taken


async def _race_through_queue(database: UnitOfWorkFactory, run: int) -> None:
    chats = 200
    services = services_on(database)
    ada, bob = await online_operators(services, 2)
    sids = []
    for n in range(chats):
        reply = await visitor_message(services, text=f"operatore {n}", session_id=None)
        await request_operator(services, session_id=reply.session_id)
        sids.append(reply.session_id)
    # Both walk the queue, one from each end, so they collide in the middle.
    got_ada, got_bob = await asyncio.gather(
        _grab(services, ada, sids), _grab(services, bob, sids[::-1])
    )
    assert not set(got_ada) & set(got_bob), f"run {run}: a chat was taken twice"
    assert sorted(got_ada + got_bob) == sorted(sids), "every chat was taken by someone"
    async with database() as uow:
        held = await uow.sessions.list(statuses=[SessionStatus.WITH_OPERATOR], limit=10 * chats)
        connected = await uow.events.list(types=[EventType.OPERATOR_CONNECTED])
        waiting = await uow.queue.list_waiting()
    owners = {s.id: s.operator_id for s in held}
    assert owners == dict.fromkeys(got_ada, ada) | dict.fromkeys(got_bob, bob)
    assert Counter(e.session_id for e in connected) == Counter(sids)
    assert waiting == []


async def test_concurrent_messages_keep_a_gap_free_order(
    adapter: AdapterOpener, request: pytest.FixtureRequest
) -> None:
    """20 messages written at once to one session are all stored, numbered 1..N without gaps."""
    for run in runs(request):
        async with adapter() as database:
            await _concurrent_messages(database, run)


async def _concurrent_messages(database: UnitOfWorkFactory, run: int) -> None:
    services = services_on(database)
    operators = await online_operators(services, 1)
    sid = (await visitor_message(services, text="ciao", session_id=None)).session_id
    await take_chat(services, operator_id=operators[0], session_id=sid)
    texts = [f"messaggio {n}" for n in range(20)]
    await asyncio.gather(*(visitor_message(services, text=t, session_id=sid) for t in texts))
    messages = (await poll(services, session_id=sid)).messages
    assert [m.seq for m in messages] == list(range(1, len(messages) + 1))
    written = [m.text for m in messages if m.sender is Sender.USER]
    assert sorted(written) == sorted(["ciao", *texts]), f"run {run}: lost or doubled messages"


async def test_racing_sends_of_one_client_message_store_it_once(
    adapter: AdapterOpener, request: pytest.FixtureRequest
) -> None:
    """Ten sends of one message with one client id at once: stored and answered once, none fails."""
    for run in runs(request):
        async with adapter() as database:
            await _racing_sends(database, run)


async def _racing_sends(database: UnitOfWorkFactory, run: int) -> None:
    services = services_on(database)
    sid = (await visitor_message(services, text="ciao", session_id=None)).session_id
    text = "a che ora aprite?"
    results = await asyncio.gather(
        *(
            visitor_message(services, text=text, session_id=sid, client_message_id="retry-1")
            for _ in range(10)
        )
    )
    (seq,) = {r.visitor_seq for r in results}
    replies = {r.reply.id for r in results if r.reply is not None}
    assert len(replies) == 1, f"run {run}: replies {replies}"
    assert all(r.reply is not None or r.reply_pending for r in results), f"run {run}"
    messages = (await poll(services, session_id=sid)).messages
    assert [m.text for m in messages].count(text) == 1, f"run {run}: stored more than once"
    assert [m.id for m in messages if m.meta.reply_to == seq] == list(replies)
    async with database() as uow:
        answers = await uow.events.list(types=[EventType.KB_ANSWER], session_id=sid)
    assert len(answers) == 2, f"run {run}: {len(answers)} answers recorded"


async def test_racing_sends_of_one_operator_message_store_it_once(
    adapter: AdapterOpener, request: pytest.FixtureRequest
) -> None:
    """Ten sends of an operator's reply with one client id at once: one message, all get it."""
    for run in runs(request):
        async with adapter() as database:
            await _racing_operator_sends(database, run)


async def _racing_operator_sends(database: UnitOfWorkFactory, run: int) -> None:
    services = services_on(database)
    (operator_id,) = await online_operators(services, 1)
    sid = (await visitor_message(services, text="ciao", session_id=None)).session_id
    await take_chat(services, operator_id=operator_id, session_id=sid)
    results = await asyncio.gather(
        *(
            operator_message(
                services,
                operator_id=operator_id,
                session_id=sid,
                text="Eccomi",
                client_message_id="retry-2",
            )
            for _ in range(10)
        )
    )
    assert len(set(results)) == 1, f"run {run}: {len(set(results))} different messages"
    messages = (await poll(services, session_id=sid)).messages
    assert [m.text for m in messages].count("Eccomi") == 1, f"run {run}: stored more than once"


async def test_racing_first_messages_of_one_client_id_open_one_chat(
    adapter: AdapterOpener, request: pytest.FixtureRequest
) -> None:
    """Ten sends of a chat's first message (no sessionId, one client id) at once: one chat."""
    for run in runs(request):
        async with adapter() as database:
            await _racing_first_messages(database, run)


async def _racing_first_messages(database: UnitOfWorkFactory, run: int) -> None:
    services = services_on(database)
    opening = f"opening-{run:02d}-0b4c7f7e3f1d4d7b9a51"
    results = await asyncio.gather(
        *(
            visitor_message(services, text="ciao", session_id=None, client_message_id=opening)
            for _ in range(10)
        )
    )
    (sid,) = {r.session_id for r in results}
    replies = {r.reply.id for r in results if r.reply is not None}
    assert len(replies) == 1, f"run {run}: replies {replies}"
    assert all(r.reply is not None or r.reply_pending for r in results), f"run {run}"
    async with database() as uow:
        chats = await uow.sessions.list()
        started = await uow.events.list(types=[EventType.SESSION_STARTED])
    assert [c.id for c in chats] == [sid], f"run {run}: {len(chats)} chats"
    assert len(started) == 1, f"run {run}: {len(started)} chats started"
    messages = (await poll(services, session_id=sid)).messages
    assert [m.sender for m in messages] == [Sender.USER, Sender.BOT], f"run {run}: {messages}"
