"""The notifiers that leave the process, each against a real server on 127.0.0.1.

One contract runs over every channel (the webhook against a receiver that checks the
signature, e-mail against aiosmtpd, Twilio against a fake of its API): team
notifications reach the team, a visitor's reaches that visitor alone (or nobody, where
the channel cannot reach them), temporary failures are retried the configured number of
times and permanent ones not at all. Then what is particular to each channel, and the
dispatcher that the app uses in front of them.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path

import attrs
import pytest

from lucine_adapters.bootstrap import bootstrap, close
from lucine_adapters.notifiers import (
    DispatchingNotifier,
    InMemoryNotifier,
    SmtpNotifier,
    TwilioNotifier,
    WebhookNotifier,
)
from lucine_adapters.notifiers.guard import refusal
from lucine_adapters.notifiers.twilio import MAX_TEXT, message_text
from lucine_adapters.settings import Settings
from lucine_core.errors import ExternalServiceError, ValidationError
from lucine_core.ports import Notification, Notifier
from tests.fake_smtp import FakeSmtp, fake_smtp
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio, TwilioReply, fake_twilio
from tests.fake_webhook import MAX_AGE, Reply, WebhookReceiver, verify, webhook_receiver
from tests.http_server import free_port

SECRET = b"a-webhook-secret-for-tests-only-0123456789"
ATTEMPTS = 3
FAST = {"attempts": ATTEMPTS, "backoff": 0.001}
TEAM_EMAILS = ("team@lucine.test", "capo@lucine.test")
TEAM_PHONE = "+393331112222"
TWILIO_FROM = "+15005550006"

TEAM = Notification(
    kind="ticket_created",
    subject="Nuovo ticket T-1: perché l'ordine è in ritardo?",
    body="Il cliente chiede perché l'ordine non è ancora arrivato.\nGrazie, à bientôt!",
    data={"ticketId": "T-1", "priority": "medium"},
)


def for_visitor(recipient: str) -> Notification:
    """A ticket confirmation addressed to one visitor."""
    return Notification(
        kind="ticket_confirmation",
        subject="Richiesta n. T-1 ricevuta",
        body="Grazie, abbiamo ricevuto la tua richiesta n. T-1.\n\nTi risponderemo al più presto.",
        data={"ticketId": "T-1"},
        recipient=recipient,
    )


@attrs.frozen(kw_only=True)
class Delivery:
    """What one server accepted: to whom, with which subject and body."""

    to: tuple[str, ...]
    subject: str
    body: str


@attrs.define(kw_only=True)
class Channel:
    """One notifier on its server, with the handles the contract needs."""

    name: str
    notifier: Notifier
    team: tuple[str, ...]
    visitor: str | None
    unreachable_visitor: str
    deliveries: Callable[[], list[Delivery]]
    attempts_seen: Callable[[], int]
    fail_always: Callable[[], None]
    fail_once: Callable[[], None]
    refuse: Callable[[], None]
    dead: Callable[[], Notifier]


def _webhook(receiver: WebhookReceiver) -> Channel:
    def deliveries() -> list[Delivery]:
        ok = [r for r in receiver.received if r.genuine and r.status < 300]
        return [
            Delivery(to=("webhook",), subject=r.json["subject"], body=r.json["body"]) for r in ok
        ]

    def fail_always() -> None:
        receiver.always = Reply(status=503)

    return Channel(
        name="webhook",
        notifier=WebhookNotifier(receiver.url, SECRET, allow_private=True, timeout=2, **FAST),
        team=("webhook",),
        visitor=None,
        unreachable_visitor="ada@example.org",
        deliveries=deliveries,
        attempts_seen=lambda: len(receiver.received),
        fail_always=fail_always,
        fail_once=lambda: receiver.then(Reply(status=502)),
        refuse=lambda: receiver.then(Reply(status=400)),
        dead=lambda: WebhookNotifier(
            f"http://127.0.0.1:{free_port()}/", SECRET, allow_private=True, **FAST
        ),
    )


def smtp_notifier(port: int, **changes: object) -> SmtpNotifier:
    """The e-mail notifier on a local server, plain SMTP, tiny backoff."""
    options: dict[str, object] = {"security": "none", "local_hostname": "lucine.test", **FAST}
    options.update(changes)
    return SmtpNotifier("127.0.0.1", port, "Lucine <noreply@lucine.test>", TEAM_EMAILS, **options)


def _smtp(server: FakeSmtp) -> Channel:
    def deliveries() -> list[Delivery]:
        return [
            Delivery(
                to=m.rcpt_tos,
                subject=str(m.message["Subject"]),
                body=m.message.get_content().replace("\r\n", "\n").rstrip("\n"),
            )
            for m in server.messages
        ]

    return Channel(
        name="smtp",
        notifier=smtp_notifier(server.port),
        team=TEAM_EMAILS,
        visitor="ada@example.org",
        unreachable_visitor="+393334445555",
        deliveries=deliveries,
        attempts_seen=lambda: server.attempts,
        fail_always=lambda: server.mail_replies.extend(["451 4.3.0 Try again later"] * 10),
        fail_once=lambda: server.mail_replies.append("421 4.7.0 Too busy"),
        refuse=lambda: server.mail_replies.append("550 5.7.1 Sender rejected"),
        dead=lambda: smtp_notifier(free_port()),
    )


def twilio_notifier(fake: FakeTwilio, team: tuple[str, ...] = (TEAM_PHONE,), **changes: object):
    """The Twilio notifier on the fake, tiny backoff."""
    options: dict[str, object] = {"base_url": fake.url, "timeout": 2, **FAST}
    options.update(changes)
    return TwilioNotifier(ACCOUNT_SID, AUTH_TOKEN, TWILIO_FROM, team, **options)


def _twilio(fake: FakeTwilio) -> Channel:
    def deliveries() -> list[Delivery]:
        ok = [s for s in fake.requests if s.status < 300]
        return [
            Delivery(
                to=(s.form["To"],),
                subject=s.form["Body"].split("\n", 1)[0],
                body=s.form["Body"].split("\n", 1)[1],
            )
            for s in ok
        ]

    def fail_always() -> None:
        fake.always = TwilioReply(status=503)

    return Channel(
        name="twilio",
        notifier=twilio_notifier(fake),
        team=(TEAM_PHONE,),
        visitor="+393334445555",
        unreachable_visitor="ada@example.org",
        deliveries=deliveries,
        attempts_seen=lambda: len(fake.requests),
        fail_always=fail_always,
        fail_once=lambda: fake.then(TwilioReply(status=500)),
        refuse=lambda: fake.then(TwilioReply(status=400, code=21211)),
        dead=lambda: twilio_notifier(FakeTwilio(url=f"http://127.0.0.1:{free_port()}")),
    )


@pytest.fixture(params=["webhook", "smtp", "twilio"])
def channel(request: pytest.FixtureRequest) -> Iterator[Channel]:
    """Each notifier on a fresh server of its own."""
    if request.param == "webhook":
        with webhook_receiver(SECRET) as receiver:
            yield _webhook(receiver)
    elif request.param == "smtp":
        with fake_smtp() as server:
            yield _smtp(server)
    else:
        with fake_twilio() as fake:
            yield _twilio(fake)


# --- the contract, on every channel ---------------------------------------------------


async def test_a_team_notification_reaches_the_team_with_its_subject_and_body(
    channel: Channel,
) -> None:
    """Every team address gets the notification once, subject and body intact."""
    await channel.notifier.notify(TEAM)
    got = channel.deliveries()
    assert sorted(to for d in got for to in d.to) == sorted(channel.team)
    assert {(d.subject, d.body) for d in got} == {(TEAM.subject, TEAM.body)}


async def test_a_visitor_notification_goes_to_that_visitor_alone(channel: Channel) -> None:
    """A confirmation reaches its visitor and no one else; a channel that cannot, sends none."""
    recipient = channel.visitor or "ada@example.org"
    await channel.notifier.notify(for_visitor(recipient))
    got = channel.deliveries()
    if channel.visitor is None:
        assert got == []
        assert channel.attempts_seen() == 0
        return
    assert [d.to for d in got] == [(channel.visitor,)]
    assert got[0].subject == "Richiesta n. T-1 ricevuta"
    assert "al più presto" in got[0].body


async def test_an_address_the_channel_cannot_reach_is_skipped(channel: Channel) -> None:
    """A phone number by e-mail, an e-mail address by SMS: nothing is sent, nothing raised."""
    await channel.notifier.notify(for_visitor(channel.unreachable_visitor))
    assert channel.attempts_seen() == 0


async def test_temporary_failures_are_retried_then_raised(channel: Channel) -> None:
    """A server that keeps failing is tried the configured number of times, then it raises."""
    channel.fail_always()
    with pytest.raises(ExternalServiceError) as caught:
        await channel.notifier.notify(TEAM)
    assert channel.attempts_seen() == ATTEMPTS
    assert caught.value.retryable is True
    assert f"attempt {ATTEMPTS} of {ATTEMPTS}" in caught.value.reason
    assert channel.deliveries() == []


async def test_one_temporary_failure_is_retried_and_delivered(channel: Channel) -> None:
    """After one temporary failure the next attempt delivers, once."""
    channel.fail_once()
    await channel.notifier.notify(TEAM)
    assert channel.attempts_seen() == 2
    assert len(channel.deliveries()) == 1


async def test_a_permanent_refusal_is_not_retried(channel: Channel) -> None:
    """A final refusal (4xx, a 5xx SMTP reply) raises after one attempt."""
    channel.refuse()
    with pytest.raises(ExternalServiceError) as caught:
        await channel.notifier.notify(TEAM)
    assert channel.attempts_seen() == 1
    assert caught.value.retryable is False
    assert channel.deliveries() == []


async def test_a_server_that_is_not_there_raises_after_the_attempts(channel: Channel) -> None:
    """Connection refused is retried, then raised as ExternalServiceError."""
    with pytest.raises(ExternalServiceError) as caught:
        await channel.dead().notify(TEAM)
    assert caught.value.retryable is True
    assert f"attempt {ATTEMPTS} of {ATTEMPTS}" in caught.value.reason


# --- the webhook ------------------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    """A fresh receiver per test."""
    with webhook_receiver(SECRET) as running:
        yield running


def webhook(url: str, **changes: object) -> WebhookNotifier:
    """A webhook notifier with the test secret and a tiny backoff."""
    options: dict[str, object] = {"allow_private": True, "timeout": 2, **FAST}
    options.update(changes)
    return WebhookNotifier(url, SECRET, **options)


async def test_the_webhook_body_and_signature_verify_independently(
    receiver: WebhookReceiver,
) -> None:
    """The JSON has exactly the documented fields; the signature checks out; a forgery fails."""
    await webhook(receiver.url).notify(TEAM)
    [request] = receiver.received
    assert request.genuine
    assert request.json == {
        "kind": "ticket_created",
        "subject": TEAM.subject,
        "body": TEAM.body,
        "data": {"ticketId": "T-1", "priority": "medium"},
        "sentAt": request.json["sentAt"],
    }
    assert request.json["sentAt"].endswith("Z")
    assert request.headers["content-type"].startswith("application/json")
    stamp = int(request.headers["x-lucine-timestamp"])
    assert abs(time.time() - stamp) < 5
    forged = request.body.replace(b"T-1", b"T-2")
    assert not verify(SECRET, str(stamp), forged, request.headers["x-lucine-signature"], stamp)
    assert not verify(
        b"x" * 32, str(stamp), request.body, request.headers["x-lucine-signature"], stamp
    )
    late = stamp + MAX_AGE + 1
    assert not verify(SECRET, str(stamp), request.body, request.headers["x-lucine-signature"], late)


async def test_a_wrong_secret_is_rejected_by_the_receiver(receiver: WebhookReceiver) -> None:
    """Signed with another key, the receiver answers 401, which is not retried."""
    other = WebhookNotifier(
        receiver.url, b"another-secret-of-at-least-32-bytes!", allow_private=True, **FAST
    )
    with pytest.raises(ExternalServiceError) as caught:
        await other.notify(TEAM)
    assert "HTTP 401" in caught.value.reason
    assert [r.genuine for r in receiver.received] == [False]


async def test_retries_are_signed_afresh_and_keep_their_delivery_id(
    receiver: WebhookReceiver,
) -> None:
    """A 429 and a 500 are retried; every attempt verifies and shares one X-Lucine-Delivery."""
    receiver.then(Reply(status=429), Reply(status=500))
    await webhook(receiver.url).notify(TEAM)
    assert [r.status for r in receiver.received] == [429, 500, 204]
    assert all(r.genuine for r in receiver.received)
    assert len({r.headers["x-lucine-delivery"] for r in receiver.received}) == 1
    assert len({r.body for r in receiver.received}) == 1


@pytest.mark.parametrize("status", [400, 404, 410, 302])
async def test_client_errors_and_redirects_are_not_retried(
    receiver: WebhookReceiver, status: int
) -> None:
    """Another 4xx, or a redirect (never followed), fails at once."""
    receiver.then(Reply(status=status, headers={"Location": "http://169.254.169.254/"}))
    with pytest.raises(ExternalServiceError) as caught:
        await webhook(receiver.url).notify(TEAM)
    assert caught.value.retryable is False
    assert len(receiver.received) == 1


async def test_a_slow_receiver_times_out_and_is_retried(receiver: WebhookReceiver) -> None:
    """An answer slower than the timeout counts as a temporary failure."""
    receiver.then(Reply(delay=0.5))
    await webhook(receiver.url, timeout=0.2).notify(TEAM)
    assert len(receiver.received) == 2


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/hooks/lucine",
        "http://[::1]:{port}/hooks/lucine",
        "http://localhost:{port}/hooks/lucine",
        "http://10.1.2.3/hooks",
        "http://192.168.1.20/hooks",
        "http://169.254.169.254/latest/meta-data/",
        "http://0.0.0.0:{port}/",
        "http://[::ffff:127.0.0.1]:{port}/",
        "http://[fe80::1]/",
        "http://224.0.0.1/",
    ],
)
async def test_private_targets_are_refused_without_a_request(
    receiver: WebhookReceiver, url: str
) -> None:
    """Loopback, private, link-local, unspecified and multicast targets: refused, not retried."""
    port = receiver.url.split(":")[2].split("/")[0]
    started = time.perf_counter()
    notifier = webhook(url.format(port=port), allow_private=False, backoff=1.0)
    with pytest.raises(ExternalServiceError) as caught:
        await notifier.notify(TEAM)
    assert caught.value.retryable is False
    assert caught.value.reason.startswith("refused:")
    assert "attempt 1 of" in caught.value.reason
    assert time.perf_counter() - started < 0.9  # no backoff: it was not retried
    assert receiver.received == []


async def test_private_targets_are_accepted_when_allowed(receiver: WebhookReceiver) -> None:
    """With allow_private a receiver on 127.0.0.1 gets the notification."""
    await webhook(receiver.url, allow_private=True).notify(TEAM)
    assert [r.genuine for r in receiver.received] == [True]


@pytest.mark.parametrize(
    "answers", [["10.0.0.5"], ["93.184.216.34", "127.0.0.1"], ["2606:4700::1", "fd00::1"]]
)
async def test_every_address_a_name_resolves_to_is_checked_at_send_time(
    answers: list[str],
) -> None:
    """A name that resolves (now) to any private address is refused before connecting."""
    looked_up: list[str] = []

    async def resolver(host: str, port: int) -> list[str]:
        looked_up.append(host)
        return answers

    notifier = WebhookNotifier("https://hooks.shop.example/x", SECRET, resolver=resolver, **FAST)
    for _ in range(2):
        with pytest.raises(ExternalServiceError) as caught:
            await notifier.notify(TEAM)
        assert caught.value.retryable is False
    assert looked_up == ["hooks.shop.example"] * 2  # at every delivery, not once


async def test_the_request_goes_to_the_checked_address_with_the_name_as_host(
    receiver: WebhookReceiver,
) -> None:
    """The connection uses the resolved, vetted address; the Host header keeps the name."""
    port = receiver.url.split(":")[2].split("/")[0]

    async def resolver(host: str, _: int) -> list[str]:
        return ["127.0.0.1"]

    url = f"http://hooks.shop.example:{port}/hooks/lucine"
    await webhook(url, resolver=resolver).notify(TEAM)
    [request] = receiver.received
    assert request.headers["host"] == f"hooks.shop.example:{port}"
    assert request.genuine


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.2", False),
        ("10.255.0.1", False),
        ("172.16.5.4", False),
        ("100.64.0.1", False),
        ("169.254.169.254", False),
        ("0.0.0.0", False),  # noqa: S104 - an address checked, not bound
        ("255.255.255.255", False),
        ("240.0.0.1", False),
        ("::1", False),
        ("::", False),
        ("fc00::1", False),
        ("fe80::1%eth0", False),
        ("ff02::1", False),
        ("::ffff:10.0.0.1", False),
        ("::ffff:93.184.216.34", True),
        ("2002:7f00:1::", False),
        ("64:ff9b::a00:1", False),
        ("not-an-ip", False),
    ],
)
def test_the_guard_knows_public_from_private(address: str, public: bool) -> None:
    """Only global unicast addresses pass, including IPv4 wrapped in IPv6."""
    assert (refusal(address) is None) is public


@pytest.mark.parametrize(
    ("url", "secret", "field"),
    [
        ("ftp://hooks.example/x", SECRET, "url"),
        ("hooks.example/x", SECRET, "url"),
        ("https:///nohost", SECRET, "url"),
        ("https://hooks.example/x", b"too short", "secret"),
    ],
)
def test_the_webhook_refuses_bad_configuration_at_construction(
    url: str, secret: bytes, field: str
) -> None:
    """A URL that is not http(s) with a host, or a short secret, is a ValidationError."""
    with pytest.raises(ValidationError) as caught:
        WebhookNotifier(url, secret)
    assert caught.value.field == field


def test_the_webhook_secret_is_not_in_its_repr() -> None:
    """Logging the notifier does not leak its key."""
    assert SECRET.decode() not in repr(WebhookNotifier("https://hooks.example/x", SECRET))


# --- e-mail -----------------------------------------------------------------------------


@pytest.fixture
def smtp() -> Iterator[FakeSmtp]:
    """A fresh SMTP server per test."""
    with fake_smtp() as server:
        yield server


async def test_the_email_is_plain_utf8_text_with_proper_headers(smtp: FakeSmtp) -> None:
    """From, To, Subject (accents intact), Date, Message-ID, Auto-Submitted; UTF-8 body."""
    await smtp_notifier(smtp.port).notify(TEAM)
    [captured] = smtp.messages
    message: EmailMessage = captured.message
    assert captured.mail_from == "noreply@lucine.test"
    assert message["From"] == "Lucine <noreply@lucine.test>"
    assert message["To"] == "team@lucine.test, capo@lucine.test"
    assert message["Subject"] == TEAM.subject
    assert message["Date"]
    assert message["Message-ID"].endswith("@lucine.test>")
    assert message["Auto-Submitted"] == "auto-generated"
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"
    assert "perché l'ordine non è ancora arrivato" in message.get_content()
    assert captured.raw.isascii()  # quoted-printable: safe through any relay


async def test_a_visitor_email_is_addressed_to_them_alone(smtp: FakeSmtp) -> None:
    """Envelope and To header name only the visitor, never the team."""
    await smtp_notifier(smtp.port).notify(for_visitor("Ada@Example.org"))
    [captured] = smtp.messages
    assert captured.rcpt_tos == ("ada@example.org",)
    assert captured.message["To"] == "ada@example.org"


async def test_a_451_is_retried_and_a_550_is_not(smtp: FakeSmtp) -> None:
    """A transient RCPT reply is retried until accepted; a final one raises at once."""
    smtp.rcpt_replies.extend(["451 4.7.1 Greylisted", "451 4.7.1 Greylisted"])
    await smtp_notifier(smtp.port).notify(for_visitor("ada@example.org"))
    assert smtp.attempts == 3
    assert len(smtp.messages) == 1
    smtp.attempts = 0
    smtp.rcpt_replies.append("550 5.1.1 No such user")
    with pytest.raises(ExternalServiceError) as caught:
        await smtp_notifier(smtp.port).notify(for_visitor("nobody@example.org"))
    assert smtp.attempts == 1
    assert caught.value.retryable is False
    assert "550" in caught.value.reason


async def test_starttls_is_never_downgraded(smtp: FakeSmtp) -> None:
    """A relay that does not offer STARTTLS gets nothing, and it is not retried."""
    with pytest.raises(ExternalServiceError) as caught:
        await smtp_notifier(smtp.port, security="starttls").notify(TEAM)
    assert caught.value.retryable is False
    assert smtp.attempts == 0
    assert smtp.messages == []


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
async def test_the_login_is_sent_when_configured() -> None:
    """With a username and password the relay gets them through AUTH."""
    with fake_smtp(require_auth=True) as server:
        await smtp_notifier(server.port, username="lucine", password="relay-pass").notify(TEAM)
        assert server.logins == [("lucine", "relay-pass")]
        assert len(server.messages) == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"sender": "not an address"}, "sender"),
        ({"team": ["ok@lucine.test", "nope"]}, "team_recipients"),
        ({"security": "tls"}, "security"),
        ({"username": "only-a-name"}, "username"),
        ({"port": 0}, "port"),
    ],
)
def test_the_email_notifier_refuses_bad_configuration(
    changes: dict[str, object], field: str
) -> None:
    """Malformed addresses and settings are a ValidationError naming the argument."""
    args: dict[str, object] = {
        "host": "127.0.0.1",
        "port": 2525,
        "sender": "noreply@lucine.test",
        "team": TEAM_EMAILS,
    }
    args.update(changes)
    options = {k: v for k, v in args.items() if k in {"security", "username"}}
    with pytest.raises(ValidationError) as caught:
        SmtpNotifier(args["host"], args["port"], args["sender"], args["team"], **options)
    assert caught.value.field == field


# --- Twilio -----------------------------------------------------------------------------


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    """A fresh fake Twilio per test."""
    with fake_twilio() as fake:
        yield fake


async def test_twilio_gets_the_path_auth_and_form_it_expects(twilio: FakeTwilio) -> None:
    """POST to the account's Messages.json, Basic auth, From/To/Body form-encoded."""
    await twilio_notifier(twilio).notify(TEAM)
    [sent] = twilio.requests
    assert sent.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert (sent.user, sent.password) == (ACCOUNT_SID, AUTH_TOKEN)
    assert sent.content_type.startswith("application/x-www-form-urlencoded")
    assert sent.form == {
        "From": TWILIO_FROM,
        "To": TEAM_PHONE,
        "Body": f"{TEAM.subject}\n{TEAM.body}",
    }


async def test_whatsapp_numbers_carry_the_prefix(twilio: FakeTwilio) -> None:
    """On the WhatsApp channel both numbers are sent as whatsapp:+..."""
    await twilio_notifier(twilio, channel="whatsapp").notify(for_visitor("+393334445555"))
    [sent] = twilio.requests
    assert sent.form["From"] == f"whatsapp:{TWILIO_FROM}"
    assert sent.form["To"] == "whatsapp:+393334445555"


async def test_each_team_number_is_sent_even_if_one_fails(twilio: FakeTwilio) -> None:
    """A refused number raises after the others were still sent; the reason hides the number."""
    twilio.then(TwilioReply(status=400, code=21211))
    team = ("+393330000001", "+393330000002")
    with pytest.raises(ExternalServiceError) as caught:
        await twilio_notifier(twilio, team=team).notify(TEAM)
    assert [(s.form["To"], s.status) for s in twilio.requests] == [
        ("+393330000001", 400),
        ("+393330000002", 201),
    ]
    assert "1 of 2" in caught.value.reason
    assert "21211" in caught.value.reason
    assert "+39333" not in caught.value.reason


async def test_a_429_is_retried(twilio: FakeTwilio) -> None:
    """Too many requests is temporary."""
    twilio.then(TwilioReply(status=429, code=20429))
    await twilio_notifier(twilio).notify(TEAM)
    assert [s.status for s in twilio.requests] == [429, 201]


async def test_a_wrong_token_is_not_retried(twilio: FakeTwilio) -> None:
    """Twilio's 401 is final."""
    notifier = TwilioNotifier(
        ACCOUNT_SID, "wrong", TWILIO_FROM, [TEAM_PHONE], base_url=twilio.url, **FAST
    )
    with pytest.raises(ExternalServiceError) as caught:
        await notifier.notify(TEAM)
    assert len(twilio.requests) == 1
    assert "HTTP 401" in caught.value.reason


async def test_a_visitor_number_without_country_code_is_not_sent(twilio: FakeTwilio) -> None:
    """A number not in E.164 form fails for good, and its digits stay out of the reason."""
    with pytest.raises(ExternalServiceError) as caught:
        await twilio_notifier(twilio).notify(for_visitor("3334445555"))
    assert caught.value.retryable is False
    assert "3334445555" not in caught.value.reason
    assert twilio.requests == []


async def test_a_long_message_is_cut_to_twilios_limit(twilio: FakeTwilio) -> None:
    """Subject and body longer than 1,600 characters are cut at a word, with an ellipsis."""
    long = Notification(kind="ticket_created", subject="Lungo", body="parola " * 400)
    await twilio_notifier(twilio).notify(long)
    body = twilio.requests[0].form["Body"]
    assert len(body) <= MAX_TEXT
    assert body.endswith("parola…")


def test_the_cut_counts_emoji_as_twilio_does() -> None:
    """Characters outside the BMP count twice; the result never exceeds the limit."""
    text = message_text("🎄" * 10, "🎁" * 1000)
    assert len(text.encode("utf-16-le")) // 2 <= MAX_TEXT
    assert text.endswith("…")
    assert message_text("Ciao", "breve") == "Ciao\nbreve"


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"account_sid": "AC123"}, "account_sid"),
        ({"account_sid": "AC" + "0" * 31 + "/"}, "account_sid"),
        ({"sender": "3331234567"}, "sender"),
        ({"team": ["+39333", "+393331234567"]}, "team_recipients"),
        ({"team": ["+0393331234567"]}, "team_recipients"),
        ({"channel": "telegram"}, "channel"),
        ({"base_url": "ftp://api.twilio.com"}, "base_url"),
    ],
)
def test_twilio_refuses_bad_configuration(args: dict[str, object], field: str) -> None:
    """Numbers must be E.164, the SID well-formed (it goes into the path), the URL http(s)."""
    values: dict[str, object] = {
        "account_sid": ACCOUNT_SID,
        "sender": TWILIO_FROM,
        "team": [TEAM_PHONE],
    }
    values.update(args)
    options = {k: v for k, v in values.items() if k in {"channel", "base_url"}}
    with pytest.raises(ValidationError) as caught:
        TwilioNotifier(
            values["account_sid"], AUTH_TOKEN, values["sender"], values["team"], **options
        )
    assert caught.value.field == field


def test_twilio_credentials_are_not_in_its_repr() -> None:
    """Logging the notifier does not leak the token."""
    notifier = TwilioNotifier(ACCOUNT_SID, AUTH_TOKEN, TWILIO_FROM, [TEAM_PHONE])
    assert AUTH_TOKEN not in repr(notifier)
    assert base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode() not in repr(notifier)


# --- the dispatcher ---------------------------------------------------------------------


def recording(*names: str) -> dict[str, InMemoryNotifier]:
    """A recording notifier per channel name."""
    return {name: InMemoryNotifier() for name in names}


async def test_notify_returns_at_once_while_a_channel_is_slow(receiver: WebhookReceiver) -> None:
    """A receiver that takes 0.5 s does not hold the caller; drain() waits for it."""
    receiver.then(Reply(delay=0.5))
    dispatcher = DispatchingNotifier({"webhook": webhook(receiver.url)})
    started = time.perf_counter()
    await dispatcher.notify(TEAM)
    assert time.perf_counter() - started < 0.1
    assert dispatcher.pending == 1
    await dispatcher.drain()
    assert dispatcher.pending == 0
    assert dispatcher.delivered == {"webhook": 1}
    assert [r.genuine for r in receiver.received] == [True]


async def test_a_failing_channel_does_not_stop_the_others(
    receiver: WebhookReceiver, smtp: FakeSmtp, twilio: FakeTwilio, caplog: pytest.LogCaptureFixture
) -> None:
    """The webhook keeps failing; e-mail and SMS still arrive; the failure is logged and counted."""
    receiver.always = Reply(status=503)
    dispatcher = DispatchingNotifier(
        {
            "webhook": webhook(receiver.url),
            "email": smtp_notifier(smtp.port),
            "sms": twilio_notifier(twilio),
        }
    )
    with caplog.at_level(logging.WARNING, logger="lucine.notify"):
        await dispatcher.notify(TEAM)
        await dispatcher.drain()
    assert dispatcher.failures == {"webhook": 1}
    assert dispatcher.delivered == {"email": 1, "sms": 1}
    assert len(receiver.received) == ATTEMPTS
    assert len(smtp.messages) == 1
    assert len(twilio.requests) == 1
    [failure] = [r for r in caplog.records if r.levelno == logging.ERROR]
    text = failure.getMessage()
    assert "kind=ticket_created" in text
    assert "channel=webhook" in text
    assert "HTTP 503" in text
    assert any(TEAM.subject in r.getMessage() for r in caplog.records)  # the log channel


async def test_team_kinds_follow_the_routes() -> None:
    """Each kind reaches its routed channels only; a kind without a route, the log alone."""
    channels = recording("webhook", "email", "sms")
    dispatcher = DispatchingNotifier(
        channels,
        routes={"sla_warning": ["webhook"], "ticket_created": ["email", "webhook"]},
    )
    for kind in ("sla_warning", "ticket_created", "no_operator_online"):
        await dispatcher.notify(attrs.evolve(TEAM, kind=kind))
    await dispatcher.drain()
    got = {name: [n.kind for n in notifier.sent] for name, notifier in channels.items()}
    assert got == {
        "webhook": ["sla_warning", "ticket_created"],
        "email": ["ticket_created"],
        "sms": [],
    }


async def test_without_routes_every_channel_gets_every_team_kind() -> None:
    """The default routing sends team notifications everywhere."""
    channels = recording("webhook", "email")
    dispatcher = DispatchingNotifier(channels)
    await dispatcher.notify(TEAM)
    await dispatcher.drain()
    assert [len(n.sent) for n in channels.values()] == [1, 1]


@pytest.mark.parametrize(
    ("recipient", "reached"),
    [("ada@example.org", "email"), ("+393334445555", "sms")],
)
async def test_a_visitor_notification_goes_to_the_channel_of_their_address(
    recipient: str, reached: str
) -> None:
    """Whatever the routes say, a confirmation goes by e-mail or SMS as its address is."""
    channels = recording("webhook", "email", "sms")
    dispatcher = DispatchingNotifier(channels, routes={"ticket_created": ["webhook"]})
    await dispatcher.notify(for_visitor(recipient))
    await dispatcher.drain()
    assert {name for name, n in channels.items() if n.sent} == {reached}


async def test_a_visitor_with_no_matching_channel_gets_nothing_and_nothing_fails() -> None:
    """A phone number and no SMS channel: the log has it, nobody else, no failure."""
    channels = recording("webhook", "email")
    dispatcher = DispatchingNotifier(channels)
    await dispatcher.notify(for_visitor("+393334445555"))
    await dispatcher.drain()
    assert all(not n.sent for n in channels.values())
    assert dispatcher.failures == {}


async def test_drain_cancels_what_outlasts_its_grace(receiver: WebhookReceiver) -> None:
    """At shutdown a delivery still running after the grace period is cancelled and counted."""
    receiver.then(Reply(delay=1.0))
    dispatcher = DispatchingNotifier({"webhook": webhook(receiver.url, timeout=5)})
    await dispatcher.notify(TEAM)
    started = time.perf_counter()
    await dispatcher.drain(grace=0.1)
    assert time.perf_counter() - started < 0.5
    assert dispatcher.pending == 0
    assert dispatcher.failures == {"webhook": 1}


async def test_too_many_pending_deliveries_are_dropped_and_counted() -> None:
    """Past max_pending, new deliveries are not started (memory stays bounded)."""
    channels = recording("email")
    dispatcher = DispatchingNotifier(channels, max_pending=2)
    for _ in range(3):
        await dispatcher.notify(TEAM)
    await dispatcher.drain()
    assert len(channels["email"].sent) == 2
    assert dispatcher.failures == {"email": 1}


async def test_a_failing_fake_is_logged_not_raised() -> None:
    """The recording notifier set to fail: notify() still returns; the failure is counted."""
    channels = recording("email")
    channels["email"].failing = True
    dispatcher = DispatchingNotifier(channels)
    await dispatcher.notify(TEAM)
    await dispatcher.drain()
    assert dispatcher.failures == {"email": 1}


# --- the composition root ---------------------------------------------------------------


async def test_bootstrap_wires_the_configured_channels_and_close_drains_them(
    tmp_path: Path, receiver: WebhookReceiver, smtp: FakeSmtp
) -> None:
    """From settings: webhook and e-mail by the routes; close() waits for their deliveries."""
    env = {
        "LUCINE_DATA_DIR": str(tmp_path),
        "LUCINE_WEBHOOK_URL": receiver.url,
        "LUCINE_WEBHOOK_SECRET": SECRET.decode(),
        "LUCINE_WEBHOOK_ALLOW_PRIVATE": "true",
        "LUCINE_SMTP_HOST": "127.0.0.1",
        "LUCINE_SMTP_PORT": str(smtp.port),
        "LUCINE_SMTP_SECURITY": "none",
        "LUCINE_SMTP_FROM": "noreply@lucine.test",
        "LUCINE_SMTP_TO": "team@lucine.test",
        "LUCINE_NOTIFY_ROUTES": "sla_breached=webhook,email;ticket_created=email",
    }
    services = bootstrap(Settings.from_env(env))
    notifier = services.notifier
    assert isinstance(notifier, DispatchingNotifier)
    assert notifier.channels_for(attrs.evolve(TEAM, kind="sla_breached")) == ("webhook", "email")
    await notifier.notify(attrs.evolve(TEAM, kind="sla_breached"))
    await notifier.notify(TEAM)
    await close(services)
    assert [r.json["kind"] for r in receiver.received] == ["sla_breached"]
    assert sorted(str(m.message["Subject"]) for m in smtp.messages) == [TEAM.subject] * 2
    assert notifier.pending == 0


def test_bootstrap_without_channels_logs_only(tmp_path: Path) -> None:
    """No notifier configured: the dispatcher has no channel besides the log."""
    services = bootstrap(Settings.from_env({"LUCINE_DATA_DIR": str(tmp_path)}))
    assert isinstance(services.notifier, DispatchingNotifier)
    assert services.notifier.channels_for(TEAM) == ()
