"""MessageStore: what every adapter of chat messages must do."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from lucine_core.enums import Sender
from lucine_core.errors import ConcurrencyError, ConflictError
from lucine_core.messages import Message, MessageMeta
from lucine_core.ports import UnitOfWorkFactory
from tests.contract.builders import at, message, rich_meta


async def _store(uow_factory: UnitOfWorkFactory, *messages: Message) -> None:
    async with uow_factory() as uow:
        for item in messages:
            await uow.messages.add(item)
        await uow.commit()


async def test_list_is_in_seq_order(uow_factory: UnitOfWorkFactory) -> None:
    """Messages come back ordered by sequence number whatever the order they were added in."""
    await _store(uow_factory, *(message("s-1", seq) for seq in (3, 1, 5, 2, 4)))
    async with uow_factory() as uow:
        found = await uow.messages.list("s-1")
    assert [m.seq for m in found] == [1, 2, 3, 4, 5]
    assert found == [message("s-1", seq) for seq in range(1, 6)]


async def test_list_after_seq_and_limit(uow_factory: UnitOfWorkFactory) -> None:
    """after_seq keeps only later messages and limit keeps the first of those."""
    await _store(uow_factory, *(message("s-1", seq) for seq in range(1, 8)))
    async with uow_factory() as uow:
        after = await uow.messages.list("s-1", after_seq=4)
        first_two = await uow.messages.list("s-1", limit=2)
        window = await uow.messages.list("s-1", after_seq=2, limit=3)
        beyond = await uow.messages.list("s-1", after_seq=7)
    assert [m.seq for m in after] == [5, 6, 7]
    assert [m.seq for m in first_two] == [1, 2]
    assert [m.seq for m in window] == [3, 4, 5]
    assert beyond == []


async def test_last_is_oldest_first(uow_factory: UnitOfWorkFactory) -> None:
    """last(n) returns the n most recent messages in chronological order."""
    await _store(uow_factory, *(message("s-1", seq) for seq in (4, 2, 6, 1, 5, 3)))
    async with uow_factory() as uow:
        last3 = await uow.messages.last("s-1", 3)
        too_many = await uow.messages.last("s-1", 50)
        unknown = await uow.messages.last("nope", 3)
    assert [m.seq for m in last3] == [4, 5, 6]
    assert [m.seq for m in too_many] == [1, 2, 3, 4, 5, 6]
    assert unknown == []


async def test_latest_gives_each_sessions_newest_message(uow_factory: UnitOfWorkFactory) -> None:
    """latest() maps each asked session with messages to its highest-seq message."""
    await _store(
        uow_factory,
        *(message("s-1", seq) for seq in (2, 5, 1)),
        *(message("s-2", seq) for seq in (1, 3)),
        message("s-3", 1),
    )
    async with uow_factory() as uow:
        found = await uow.messages.latest(["s-1", "s-2", "nope"])
        nothing = await uow.messages.latest([])
    assert dict(found) == {"s-1": message("s-1", 5), "s-2": message("s-2", 3)}
    assert dict(nothing) == {}


async def test_latest_from_one_sender(uow_factory: UnitOfWorkFactory) -> None:
    """latest(sender=...) skips newer messages of other senders, and sessions without any."""
    await _store(
        uow_factory,
        message("s-1", 1),
        message("s-1", 2, sender=Sender.BOT),
        message("s-1", 3),
        message("s-1", 4, sender=Sender.SYSTEM),
        message("s-2", 1, sender=Sender.BOT),
    )
    async with uow_factory() as uow:
        found = await uow.messages.latest(["s-1", "s-2"], sender=Sender.USER)
        bots = await uow.messages.latest(["s-1", "s-2"], sender=Sender.BOT)
    assert dict(found) == {"s-1": message("s-1", 3)}
    assert {sid: m.seq for sid, m in bots.items()} == {"s-1": 2, "s-2": 1}


async def test_duplicate_seq_conflicts(uow_factory: UnitOfWorkFactory) -> None:
    """A second message with a stored (session, seq) is refused and the first is kept."""
    await _store(uow_factory, message("s-1", 1))
    async with uow_factory() as uow:
        duplicate = attrs.evolve(message("s-1", 1), id="other-id", sender=Sender.BOT)
        with pytest.raises(ConflictError):
            await uow.messages.add(duplicate)
    async with uow_factory() as uow:
        assert await uow.messages.list("s-1") == [message("s-1", 1)]


async def test_find_by_client_id_finds_the_message_of_that_session(
    uow_factory: UnitOfWorkFactory,
) -> None:
    """A message stored with a client id is found by it in its session only, id included."""
    first = message("s-1", 1, client_message_id="c-1")
    other = message("s-1", 2, client_message_id="c-2")
    await _store(uow_factory, first, message("s-1", 3), other, message("s-2", 1))
    async with uow_factory() as uow:
        assert await uow.messages.find_by_client_id("s-1", "c-1") == first
        assert await uow.messages.find_by_client_id("s-1", "c-2") == other
        assert await uow.messages.find_by_client_id("s-2", "c-1") is None
        assert await uow.messages.find_by_client_id("s-1", "C-1") is None
        listed = await uow.messages.list("s-1")
    assert [m.client_message_id for m in listed] == ["c-1", "c-2", None]


async def test_a_client_id_is_stored_once_per_session(uow_factory: UnitOfWorkFactory) -> None:
    """One message per client id and session: a second is a ConcurrencyError, not in others."""
    await _store(uow_factory, message("s-1", 1, client_message_id="c-1"))
    async with uow_factory() as uow:
        with pytest.raises(ConcurrencyError):
            await uow.messages.add(message("s-1", 2, client_message_id="c-1"))
    await _store(uow_factory, message("s-2", 1, client_message_id="c-1"))
    async with uow_factory() as uow:
        assert [m.seq for m in await uow.messages.list("s-1")] == [1]
        assert [m.seq for m in await uow.messages.list("s-2")] == [1]


async def test_messages_without_client_ids_never_clash(uow_factory: UnitOfWorkFactory) -> None:
    """Any number of a session's messages have no client id; a seq clash stays a ConflictError."""
    await _store(uow_factory, *(message("s-1", seq) for seq in range(1, 4)))
    async with uow_factory() as uow:
        with pytest.raises(ConflictError) as clash:
            await uow.messages.add(message("s-1", 3, client_message_id="c-9"))
    assert not isinstance(clash.value, ConcurrencyError)
    async with uow_factory() as uow:
        assert [m.client_message_id for m in await uow.messages.list("s-1")] == [None] * 3
        assert await uow.messages.find_by_client_id("s-1", "c-9") is None


async def test_same_seq_in_another_session_is_fine(uow_factory: UnitOfWorkFactory) -> None:
    """Sequence numbers are per session: seq 1 of two sessions both store."""
    await _store(uow_factory, message("s-1", 1), message("s-2", 1))
    async with uow_factory() as uow:
        assert [m.session_id for m in await uow.messages.list("s-1")] == ["s-1"]
        assert [m.session_id for m in await uow.messages.list("s-2")] == ["s-2"]


async def test_meta_round_trips(uow_factory: UnitOfWorkFactory) -> None:
    """Every detail riding on a message (actions, sources, confidence, names) reads back equal."""
    bot = message("s-1", 1, sender=Sender.BOT, meta=rich_meta())
    operator = message(
        "s-1",
        2,
        sender=Sender.OPERATOR,
        sent=at(2) + timedelta(microseconds=987_654),
        meta=MessageMeta(operator_name="Giulia"),
    )
    await _store(uow_factory, bot, operator)
    async with uow_factory() as uow:
        got_bot, got_operator = await uow.messages.list("s-1")
    assert got_bot == bot
    assert got_bot.meta.smart_actions == rich_meta().smart_actions
    assert isinstance(got_bot.meta.sources, tuple)
    assert got_bot.meta.confidence == 0.8125
    assert got_bot.sender is Sender.BOT
    assert got_operator == operator
    assert got_operator.operator_id == "op-1"
    assert got_operator.meta.operator_name == "Giulia"
    assert got_operator.at.utcoffset() == timedelta(0)


async def test_text_is_kept_verbatim(uow_factory: UnitOfWorkFactory) -> None:
    """Text is stored exactly as typed: markup, quotes, emoji and newlines included."""
    text = "<script>alert('x')</script> 'quoted' \"double\" 😀\nline two\t\\"
    typed = attrs.evolve(message("s-1", 1), text=text)
    await _store(uow_factory, typed)
    async with uow_factory() as uow:
        (got,) = await uow.messages.list("s-1")
    assert got.text == text


async def test_delete_for_session_counts_and_isolates(uow_factory: UnitOfWorkFactory) -> None:
    """delete_for_session removes only that session's messages and says how many."""
    await _store(
        uow_factory,
        *(message("s-1", seq) for seq in range(1, 4)),
        *(message("s-2", seq) for seq in range(1, 3)),
    )
    async with uow_factory() as uow:
        assert await uow.messages.delete_for_session("s-1") == 3
        assert await uow.messages.delete_for_session("s-1") == 0
        assert await uow.messages.delete_for_session("never-was") == 0
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.messages.list("s-1") == []
        assert [m.seq for m in await uow.messages.list("s-2")] == [1, 2]
        await uow.messages.add(message("s-1", 1))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.messages.list("s-1") == [message("s-1", 1)]


async def test_sessions_are_isolated(uow_factory: UnitOfWorkFactory) -> None:
    """List and last of one session never return another session's messages."""
    await _store(
        uow_factory,
        *(message("s-1", seq) for seq in range(1, 4)),
        *(message("s-2", seq) for seq in range(1, 6)),
    )
    async with uow_factory() as uow:
        assert {m.session_id for m in await uow.messages.list("s-1")} == {"s-1"}
        assert len(await uow.messages.list("s-1")) == 3
        assert {m.session_id for m in await uow.messages.last("s-2", 10)} == {"s-2"}
        assert len(await uow.messages.last("s-2", 10)) == 5
        assert await uow.messages.list("s-3") == []
