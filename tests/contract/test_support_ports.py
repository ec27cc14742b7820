"""Clock, IdFactory, PasswordHasher, Notifier and EventPublisher: what each adapter must do."""

from __future__ import annotations

import logging
import math
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from lucine_adapters.notify import InMemoryNotifier, LogNotifier
from lucine_adapters.passwords import BcryptPasswordHasher
from lucine_adapters.realtime import InMemoryEventPublisher
from lucine_adapters.system import FixedClock, SecretsIdFactory, SystemClock
from lucine_core.errors import ValidationError
from lucine_core.ports import (
    Clock,
    EventPublisher,
    IdFactory,
    Notification,
    Notifier,
    PasswordHasher,
    RealtimeEvent,
)
from tests.contract.builders import T0

_URL_SAFE = re.compile(r"[A-Za-z0-9_-]+")
_PASSPHRASE = "correct horse battery staple"


@pytest.fixture(params=["system", "fixed"])
def clock(request: pytest.FixtureRequest) -> Clock:
    """Every Clock adapter."""
    clocks: dict[str, Clock] = {"system": SystemClock(), "fixed": FixedClock(T0)}
    return clocks[request.param]


@pytest.fixture
def ids() -> IdFactory:
    """The IdFactory adapter."""
    return SecretsIdFactory()


@pytest.fixture(scope="module")
def hasher() -> PasswordHasher:
    """The PasswordHasher adapter at bcrypt's lowest cost, to keep the suite fast."""
    return BcryptPasswordHasher(rounds=4)


@pytest.fixture(scope="module")
def stored_hash(hasher: PasswordHasher) -> str:
    """The hash of the test passphrase."""
    return hasher.hash(_PASSPHRASE)


@pytest.fixture(params=["log", "memory"])
def notifier(request: pytest.FixtureRequest) -> Notifier:
    """Every Notifier adapter that stays inside the process."""
    notifiers: dict[str, Notifier] = {"log": LogNotifier(), "memory": InMemoryNotifier()}
    return notifiers[request.param]


# Clock


def test_clock_is_aware_utc(clock: Clock) -> None:
    """now() is timezone-aware with a zero UTC offset."""
    now = clock.now()
    assert now.tzinfo is not None
    assert now.utcoffset() == timedelta(0)


def test_clock_does_not_go_backward(clock: Clock) -> None:
    """Two readings in a row never go backward."""
    first = clock.now()
    assert clock.now() >= first


def test_system_clock_is_close_to_now() -> None:
    """SystemClock reads the machine's clock."""
    before = datetime.now(UTC)
    now = SystemClock().now()
    assert before <= now <= datetime.now(UTC)


def test_fixed_clock_moves_only_when_told() -> None:
    """FixedClock stays put until advanced or set, and only ever moves forward."""
    clock = FixedClock(T0)
    assert clock.now() == T0
    assert clock.now() == T0
    assert clock.advance(timedelta(minutes=5)) == T0 + timedelta(minutes=5)
    assert clock.now() == T0 + timedelta(minutes=5)
    assert clock.advance(timedelta(0)) == T0 + timedelta(minutes=5)
    with pytest.raises(ValueError, match="backward"):
        clock.advance(timedelta(seconds=-1))
    assert clock.now() == T0 + timedelta(minutes=5)
    clock.set(T0 + timedelta(hours=1))
    assert clock.now() == T0 + timedelta(hours=1)
    with pytest.raises(ValueError, match="backward"):
        clock.set(T0)
    assert clock.now() == T0 + timedelta(hours=1)
    assert clock.now().utcoffset() == timedelta(0)


def test_fixed_clock_refuses_a_naive_start() -> None:
    """A naive start is refused rather than silently taken as local or UTC time."""
    with pytest.raises(ValueError, match="timezone-aware"):
        FixedClock(datetime(2026, 12, 8, 18, 0))  # noqa: DTZ001 - the naive value is the point


def test_fixed_clock_reports_utc_whatever_the_start_offset() -> None:
    """A FixedClock started at an aware non-UTC time still reports UTC (the same instant)."""
    rome = timezone(timedelta(hours=1))
    start = datetime(2026, 12, 8, 19, 0, tzinfo=rome)
    clock = FixedClock(start)
    assert clock.now() == start
    assert clock.now().utcoffset() == timedelta(0)
    later = datetime(2026, 12, 8, 20, 0, tzinfo=rome)
    clock.set(later)
    assert clock.now() == later
    assert clock.now().utcoffset() == timedelta(0)


# IdFactory


def test_session_ids_are_long_url_safe_and_distinct(ids: IdFactory) -> None:
    """1000 session ids are distinct, URL-safe and at least 22 characters (128 bits)."""
    made = [ids.session_id() for _ in range(1000)]
    assert len(set(made)) == 1000
    assert all(_URL_SAFE.fullmatch(i) for i in made)
    assert min(len(i) for i in made) >= 22


def test_session_ids_carry_128_random_bits(ids: IdFactory) -> None:
    """Session ids use at least 128 bits of alphabet entropy: no fixed prefix, no small alphabet."""
    made = [ids.session_id() for _ in range(1000)]
    alphabet = set("".join(made))
    length = min(len(i) for i in made)
    assert math.log2(len(alphabet)) * length >= 128
    # Every position varies: a timestamp or counter prefix would repeat across the sample.
    assert all(len({i[pos] for i in made}) >= len(alphabet) // 2 for pos in range(length))


def test_new_ids_are_distinct(ids: IdFactory) -> None:
    """1000 record ids are distinct non-empty strings."""
    made = [ids.new_id() for _ in range(1000)]
    assert len(set(made)) == 1000
    assert all(made)


# PasswordHasher


def test_verify_accepts_the_password_and_rejects_others(
    hasher: PasswordHasher, stored_hash: str
) -> None:
    """Verify is true for the hashed password and false for any other."""
    assert hasher.verify(_PASSPHRASE, stored_hash)
    assert not hasher.verify(_PASSPHRASE + " ", stored_hash)
    assert not hasher.verify(_PASSPHRASE.upper(), stored_hash)
    assert not hasher.verify("", stored_hash)
    assert _PASSPHRASE not in stored_hash


def test_hashes_are_salted(hasher: PasswordHasher, stored_hash: str) -> None:
    """Hashing the same password twice gives two different hashes that both verify."""
    again = hasher.hash(_PASSPHRASE)
    assert again != stored_hash
    assert hasher.verify(_PASSPHRASE, again)


def test_every_character_of_a_long_passphrase_counts(hasher: PasswordHasher) -> None:
    """A 200-byte passphrase verifies, and changing any one character (past byte 72 too) fails."""
    passphrase = "".join(chr(ord("a") + i % 26) for i in range(200))
    hashed = hasher.hash(passphrase)
    assert hasher.verify(passphrase, hashed)
    for position in (0, 71, 72, 73, 150, 199):
        changed = passphrase[:position] + "#" + passphrase[position + 1 :]
        assert not hasher.verify(changed, hashed), position
    assert not hasher.verify(passphrase[:72], hashed)
    assert not hasher.verify(passphrase[:199], hashed)


def test_non_ascii_passphrase_works(hasher: PasswordHasher) -> None:
    """A passphrase with accents and emoji verifies, and its ASCII look-alike does not."""
    hashed = hasher.hash("perché non funziona? 🔑")
    assert hasher.verify("perché non funziona? 🔑", hashed)
    assert not hasher.verify("perche non funziona? 🔑", hashed)


@pytest.mark.parametrize("password", ["", "short", "123456789"])
def test_too_short_password_is_refused(hasher: PasswordHasher, password: str) -> None:
    """Hashing a password that is too short raises ValidationError naming the password."""
    with pytest.raises(ValidationError) as raised:
        hasher.hash(password)
    assert raised.value.field == "password"


def test_too_long_password_is_refused(hasher: PasswordHasher) -> None:
    """Hashing an absurdly long password raises ValidationError instead of hashing it."""
    with pytest.raises(ValidationError):
        hasher.hash("x" * 10_000)


@pytest.mark.parametrize(
    "hashed",
    [
        "",
        "not a hash",
        "$2b$04$short",
        "$2b$99$" + "a" * 53,
        "$9z$04$" + "a" * 53,
        "é" * 60,
        "\x00" * 60,
    ],
    ids=["empty", "text", "truncated", "bad-cost", "bad-prefix", "non-ascii", "nul"],
)
def test_malformed_hash_is_false(hasher: PasswordHasher, hashed: str) -> None:
    """Verify returns False, never raises, for a malformed stored hash."""
    assert hasher.verify(_PASSPHRASE, hashed) is False


def test_damaged_hash_is_false(hasher: PasswordHasher, stored_hash: str) -> None:
    """Verify returns False for a stored hash cut short or with a character changed."""
    assert hasher.verify(_PASSPHRASE, stored_hash[:-1]) is False
    # A character in the middle of the digest: every one of its bits is significant.
    position = len(stored_hash) - 10
    replacement = "A" if stored_hash[position] != "A" else "B"
    flipped = stored_hash[:position] + replacement + stored_hash[position + 1 :]
    assert hasher.verify(_PASSPHRASE, flipped) is False


def test_overlong_password_verify_is_false(hasher: PasswordHasher, stored_hash: str) -> None:
    """Verify returns False, never raises, for an absurdly long password."""
    assert hasher.verify("x" * 10_000, stored_hash) is False


def test_unencodable_hash_verify_is_false(hasher: PasswordHasher, stored_hash: str) -> None:
    """Verify returns False, never raises, for a stored hash that is not valid Unicode."""
    assert hasher.verify(_PASSPHRASE, stored_hash + "\ud800") is False


def test_unencodable_password_verify_is_false(hasher: PasswordHasher, stored_hash: str) -> None:
    """Verify returns False, never raises, for a password that is not valid Unicode."""
    assert hasher.verify(_PASSPHRASE + "\ud800", stored_hash) is False


def test_unencodable_password_is_refused(hasher: PasswordHasher) -> None:
    """Hashing a password that is not valid Unicode raises ValidationError."""
    with pytest.raises(ValidationError):
        hasher.hash("a long passphrase \ud800")


# Notifier


async def test_notifier_accepts_a_notification(notifier: Notifier) -> None:
    """Notify accepts a Notification, with or without machine data, without raising."""
    await notifier.notify(
        Notification(
            kind="ticket_created",
            subject="Nuovo ticket t-1",
            body="Un visitatore ha lasciato un contatto.",
            data={"ticketId": "t-1", "priority": "HIGH"},
        )
    )
    await notifier.notify(Notification(kind="no_operator_online", subject="Nobody", body=""))


async def test_in_memory_notifier_records_in_order() -> None:
    """InMemoryNotifier keeps every notification, in the order sent."""
    notifier = InMemoryNotifier()
    first = Notification(kind="sla_warning", subject="one", body="")
    second = Notification(kind="sla_breached", subject="two", body="", data={"id": "s-1"})
    await notifier.notify(first)
    await notifier.notify(second)
    assert notifier.sent == [first, second]


async def test_log_notifier_logs_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    """LogNotifier writes the kind and subject at WARNING level."""
    with caplog.at_level(logging.WARNING, logger="lucine.notify"):
        await LogNotifier().notify(Notification(kind="sla_breached", subject="Chat s-1", body=""))
    (record,) = [r for r in caplog.records if r.name == "lucine.notify"]
    assert record.levelno == logging.WARNING
    assert "sla_breached" in record.getMessage()
    assert "Chat s-1" in record.getMessage()


# EventPublisher


async def test_publisher_without_subscribers_does_not_raise() -> None:
    """Publishing to a channel nobody listens to is a no-op, not an error."""
    publisher: EventPublisher = InMemoryEventPublisher()
    await publisher.publish(RealtimeEvent(channel="session:nobody", kind="message"))


async def test_subscriber_gets_its_channel_only_in_order() -> None:
    """A subscriber receives every event of its channel, in order, and none of other channels."""
    adapter = InMemoryEventPublisher()
    publisher: EventPublisher = adapter
    mine = adapter.subscribe("session:s-1")
    dashboards = adapter.subscribe("operators")
    sent = [RealtimeEvent(channel="session:s-1", kind="message", data={"seq": n}) for n in range(5)]
    for index, event in enumerate(sent):
        await publisher.publish(event)
        await publisher.publish(
            RealtimeEvent(channel="session:s-2", kind="message", data={"n": index})
        )
    await publisher.publish(RealtimeEvent(channel="operators", kind="queue"))
    received = [mine.get_nowait() for _ in range(mine.qsize())]
    assert received == sent
    assert [dashboards.get_nowait().kind for _ in range(dashboards.qsize())] == ["queue"]


async def test_every_subscriber_of_a_channel_gets_the_event() -> None:
    """Two subscribers of one channel each receive the event; an unsubscribed one does not."""
    adapter = InMemoryEventPublisher()
    first = adapter.subscribe("operators")
    second = adapter.subscribe("operators")
    gone = adapter.subscribe("operators")
    adapter.unsubscribe("operators", gone)
    event = RealtimeEvent(channel="operators", kind="status", data={"sessionId": "s-1"})
    await adapter.publish(event)
    assert first.get_nowait() == event
    assert second.get_nowait() == event
    assert gone.empty()
