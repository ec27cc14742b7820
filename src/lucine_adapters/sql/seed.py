"""Fill a schema with months of realistic, deterministic chats, for growth benchmarks.

Sessions in all eight states spread over the last 60 days (today gets its share), with
messages, state history, queue entries, tickets, notes and analytics events in the JSON
shapes ``rows.py`` reads back. Every session follows a story the app itself could have
written (asked the assistant, asked for a human, was served, closed, rated, timed out).
Each batch is written in time order, as a live shop writes, with one executemany per
table, or COPY on Postgres (several times faster there). The same ``seed`` and ``now``
give the same rows.
"""

from __future__ import annotations

import base64
import itertools
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_start
from random import Random
from typing import Any
from zoneinfo import ZoneInfo

import attrs
from psycopg import sql
from psycopg.types.json import Json
from sqlalchemy import JSON, Table, func, insert, inspect, select
from sqlalchemy.ext.asyncio import AsyncConnection

from lucine_adapters.kb.loader import sample_kb
from lucine_adapters.sql import rows
from lucine_adapters.sql import tables as t
from lucine_adapters.sql.database import SqlDatabase
from lucine_core.enums import (
    Availability,
    Language,
    QueueStatus,
    Role,
    Sender,
    SessionStatus,
    TicketPriority,
    TicketSource,
    TicketStatus,
)
from lucine_core.errors import ValidationError
from lucine_core.kb import KnowledgeBaseItem
from lucine_core.messages import Message, MessageMeta
from lucine_core.operators import Operator
from lucine_core.phrases import say
from lucine_core.queue import QueueEntry
from lucine_core.session import ChatSession, StatusChange
from lucine_core.sla import SlaPolicy
from lucine_core.tickets import Contact, InternalNote, Ticket, TranscriptLine

__all__ = ["SeedReport", "count_sessions", "seed"]

S = SessionStatus
Rows = list[dict[str, Any]]

_BATCH = 1000  # sessions per statement batch: about 10k messages and 10k events
_BATCHES_PER_TRANSACTION = 10
_SQLITE_CACHE_KIB = 256 * 1024  # the default 2 MB thrashes once indexes outgrow it
_DAYS = 60
_MINUTE = 60.0
_IDLE_AFTER = 10 * _MINUTE  # the default TimeoutPolicy
_END_AFTER = 30 * _MINUTE
_OPEN = frozenset({S.ACTIVE, S.IDLE, S.WITH_OPERATOR, S.WAITING_CLIENT})
# Open chats are a fixed few dozen (per 100k sessions, at least one each): they are the
# last minutes' traffic. The rest is history, by story and final state, in percent.
_OPEN_PER_100K = (
    ("queued", S.ACTIVE, 30),
    ("ai", S.ACTIVE, 40),
    ("ai", S.IDLE, 20),
    ("human", S.WITH_OPERATOR, 24),
    ("human", S.WAITING_CLIENT, 8),
)
_CLOSED_MIX = (
    ("human", S.RESOLVED, 10.0),
    ("human", S.NOT_RESOLVED, 3.0),
    ("human", S.CANCELLED, 2.0),
    ("human", S.ENDED, 6.0),
    ("abandoned", S.ENDED, 1.5),
    ("no_operator", S.ENDED, 1.5),
    ("ai", S.ENDED, 76.0),
)
# Minutes ago of an open chat's last message (the queued: of its request).
_OPEN_AGO = {
    ("queued", S.ACTIVE): (0.0, 15.0),
    ("ai", S.ACTIVE): (0.0, 8.0),
    ("ai", S.IDLE): (11.0, 25.0),
    ("human", S.WITH_OPERATOR): (0.0, 8.0),
    ("human", S.WAITING_CLIENT): (0.0, 15.0),
}
_HOURLY = (1, 1, 1, 1, 1, 1, 2, 4, 6, 8, 9, 10, 10, 10, 10, 10, 10, 11, 13, 15, 15, 11, 6, 3)
# Seconds since the previous message, by what the message is (see _shape).
_GAPS = {
    "U": (15.0, 120.0),  # the visitor writes
    "B": (1.0, 4.0),  # the assistant answers
    "A": (10.0, 60.0),  # the visitor asks for a human
    "Q": (0.2, 1.0),  # system: queued
    "J": (20.0, 400.0),  # system: an operator joined, after the queue wait
    "O": (10.0, 90.0),  # the operator writes
    "T": (_IDLE_AFTER, _IDLE_AFTER),  # system: timeout, the visitor went silent
    "C": (30.0, 240.0),  # system: closed, asks for a rating
    "F": (0.2, 1.0),  # system: nobody online, offers the ticket form
    "K": (60.0, 240.0),  # system: ticket created
}
_LANGUAGES = ((Language.IT, 80), (Language.EN, 15), (Language.DE, 5))
_ASK_HUMAN = {
    Language.IT: ("Vorrei parlare con un operatore", "posso parlare con una persona?"),
    Language.EN: ("Can I talk to a person?", "I want to speak to an operator"),
    Language.DE: ("Kann ich mit einem Mitarbeiter sprechen?",),
}
# Questions the sample knowledge base does not answer, a few phrasings per topic: the
# assistant is unsure of them, and `lucine kb gaps` groups them. Asked in 1 of 8 answers.
_UNCOVERED_SHARE = 0.125
_UNCOVERED = {
    Language.IT: (
        "Posso far volare un drone sopra le luci?",
        "è permesso usare il drone per fare riprese?",
        "Cercate personale per la stagione?",
        "come faccio a lavorare con voi a dicembre?",
        "Si può affittare il parco per una festa privata?",
        "organizzate serate private per aziende?",
        "Si può fumare dentro il parco?",
        "c'è un'area fumatori?",
        "è possibile fare una proposta di matrimonio durante lo spettacolo?",
    ),
    Language.EN: (
        "Can I fly a drone over the lights?",
        "Are you hiring for the season?",
        "Can we rent the park for a private party?",
    ),
    Language.DE: (
        "Darf man eine Drohne fliegen lassen?",
        "Suchen Sie Mitarbeiter für die Saison?",
    ),
}
_OPERATOR_LINES = {
    Language.IT: (
        "Buonasera, come posso aiutarti?",
        "Controllo subito la tua prenotazione.",
        "Ti ho inviato di nuovo i biglietti via email.",
        "Certo, nessun problema.",
        "Grazie per la pazienza!",
    ),
    Language.EN: ("Hello, how can I help?", "Let me check your booking.", "Done, thank you!"),
    Language.DE: ("Guten Abend, wie kann ich helfen?", "Ich prüfe das sofort.", "Erledigt!"),
}
_NOTES = (
    "Cliente ha chiesto il rimborso: inoltrato all'amministrazione.",
    "Biglietti reinviati, indirizzo email corretto.",
    "Visitatore con disabilità: segnalato all'ingresso.",
    "Richiesta gruppo scolastico, ricontattare domani.",
)
_PEOPLE = ("Maria Conti", "Giorgio Villa", "Anna Weber", "John Smith", "Francesca Galli")
_TEAM = (
    ("giulia.rossi", "Giulia", Availability.ONLINE, Role.OPERATOR),
    ("marco.bianchi", "Marco", Availability.ONLINE, Role.OPERATOR),
    ("sara.colombo", "Sara", Availability.ONLINE, Role.OPERATOR),
    ("luca.ferrari", "Luca", Availability.ONLINE, Role.OPERATOR),
    ("elena.ricci", "Elena", Availability.ONLINE, Role.OPERATOR),
    ("paolo.romano", "Paolo", Availability.BUSY, Role.OPERATOR),
    ("chiara.gallo", "Chiara", Availability.AWAY, Role.OPERATOR),
    ("admin.lucine", "Amministrazione", Availability.OFFLINE, Role.ADMIN),
)
_UNUSABLE_HASH = "!seeded"  # bcrypt refuses it: seeded operators cannot log in


@attrs.frozen(kw_only=True)
class SeedReport:
    """What ``seed`` wrote.

    Attributes:
        rows: Rows written per table.
        statuses: Sessions written per state.
        seconds: Wall-clock time of the whole seed.
    """

    rows: Mapping[str, int]
    statuses: Mapping[str, int]
    seconds: float


async def count_sessions(database: SqlDatabase) -> int | None:
    """How many sessions the database holds; None when it has no schema yet."""
    async with database.engine.connect() as conn:
        present = await conn.run_sync(lambda c: inspect(c).has_table(t.sessions.name))
        if not present:
            return None
        return int((await conn.execute(select(func.count()).select_from(t.sessions))).scalar_one())


async def seed(
    database: SqlDatabase,
    *,
    sessions: int,
    messages_per_session: int = 10,
    events_per_session: int = 10,
    progress: Callable[[int], None] | None = None,
    seed: int = 0,
    now: datetime | None = None,
    timezone: str = "UTC",
) -> SeedReport:
    """Add ``sessions`` sessions with their messages, history, queue, tickets, notes and events.

    Totals are exact: ``sessions * messages_per_session`` messages and
    ``sessions * events_per_session`` session events (plus the operators' log-ins and
    log-outs), varying from session to session. Operators already present (by username)
    are reused, so a second seed with another ``seed`` adds to the first. ``progress`` is
    called with the number of sessions written so far; ``timezone`` is the shop's, where
    "today" begins.

    Raises:
        ValidationError: fewer than one session, two messages or one event per session.
    """
    if sessions < 1:
        raise ValidationError(field="sessions", reason="must be at least 1")
    if messages_per_session < 2:  # noqa: PLR2004 - a question and its answer
        raise ValidationError(field="messages_per_session", reason="must be at least 2")
    if events_per_session < 1:
        raise ValidationError(field="events_per_session", reason="must be at least 1")
    started = time.perf_counter()
    rng = Random(seed)  # noqa: S311 - sample data, not secrets
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    zone = ZoneInfo(timezone)
    plans = _plan(
        rng,
        sessions=sessions,
        messages=messages_per_session,
        events=events_per_session,
        now=moment,
        zone=zone,
    )
    written: Counter[str] = Counter()
    async with database.engine.begin() as conn:
        cast = _Cast(rng, await _team(conn, rng, moment, written), moment)
        await _write(conn, t.events, cast.shifts(moment, zone), written)
    per_transaction = _BATCH * _BATCHES_PER_TRANSACTION
    async with database.engine.connect() as conn:
        # A bulk load's settings on this connection only, through the driver (SQLite
        # refuses them inside the transaction SQLAlchemy would begin), put back below.
        driver = await _driver(conn)
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            await _pragma(driver, f"cache_size=-{_SQLITE_CACHE_KIB}")
            await _pragma(driver, "synchronous=OFF")
        try:
            for start in range(0, sessions, per_transaction):
                async with conn.begin():
                    for first in range(start, min(start + per_transaction, sessions), _BATCH):
                        found = _tell_batch(cast, plans[first : first + _BATCH])
                        for name, table in _TABLES:
                            await _write(conn, table, found[name], written)
                        if progress is not None:
                            progress(min(first + _BATCH, sessions))
        finally:
            if sqlite:
                await _pragma(driver, "synchronous=NORMAL")
                await _pragma(driver, "cache_size=-2000")
    return SeedReport(
        rows=dict(written),
        statuses=dict(Counter(p.final.value for p in plans)),
        seconds=time.perf_counter() - started,
    )


@attrs.define
class _Plan:
    """One session's story before it is told: its kind, end state, messages and start."""

    kind: str
    final: SessionStatus
    shape: str
    offsets: list[float]
    start: float
    events: int


def _spread(rng: Random, count: int, mean: int) -> list[int]:
    """``count`` numbers around ``mean`` (at least 2 when mean is) summing to count * mean."""
    span = min(6, max(0, mean - 2))
    out = []
    for _ in range(count // 2):
        delta = rng.randint(-span, span)
        out += [mean + delta, mean - delta]
    return out + [mean] * (count % 2)


def _shape(rng: Random, kind: str, final: SessionStatus, count: int) -> tuple[str, str, S]:
    """The sender letters of the story's ``count`` messages (see _GAPS), or a plainer story."""
    chat = "UB" * count
    if kind in {"queued", "abandoned"}:
        return kind, chat[: count - 2] + "AQ", final
    if kind == "no_operator" and count >= 3:  # noqa: PLR2004 - A, F, K
        return kind, chat[: count - 3] + "AFK", final
    tail = "T" if final is S.WAITING_CLIENT else "" if final in _OPEN else "C"
    fill = count - 3 - len(tail)
    if kind == "human" and fill >= 0:
        before = min(fill, 2 * rng.randint(0, 2))
        return kind, chat[:before] + "AQJ" + ("OU" * fill)[: fill - before] + tail, final
    return "ai", chat[:count], final if final in {S.ACTIVE, S.IDLE, S.ENDED} else S.ENDED


def _plan(
    rng: Random, *, sessions: int, messages: int, events: int, now: datetime, zone: ZoneInfo
) -> list[_Plan]:
    """Every session's plan, oldest first."""
    stories = [
        (kind, final)
        for kind, final, per in _OPEN_PER_100K
        for _ in range(max(1, round(per * sessions / 100_000)))
    ][:sessions]
    stories += rng.choices(
        [(kind, final) for kind, final, _ in _CLOSED_MIX],
        weights=[share for _, _, share in _CLOSED_MIX],
        k=sessions - len(stories),
    )
    today = now.astimezone(zone).date()
    midnights = [
        datetime.combine(today - timedelta(days=d), day_start.min, tzinfo=zone).timestamp()
        for d in range(_DAYS + 1)
    ]
    hours = list(itertools.accumulate(_HOURLY))
    plans = []
    for (wanted, wanted_final), count, total in zip(
        stories, _spread(rng, sessions, messages), _spread(rng, sessions, events), strict=True
    ):
        kind, shape, final = _shape(rng, wanted, wanted_final, count)
        offsets = list(itertools.accumulate(rng.uniform(*_GAPS[c]) for c in shape[1:]))
        offsets.insert(0, 0.0)
        if final in _OPEN:
            low, high = _OPEN_AGO[kind, final]
            start = now.timestamp() - rng.uniform(low, high) * _MINUTE - offsets[-1]
        else:
            latest = now.timestamp() - offsets[-1] - _IDLE_AFTER - _END_AFTER - 5 * _MINUTE
            hour = rng.choices(range(24), cum_weights=hours)[0]
            start = midnights[rng.randrange(_DAYS)] + (hour + rng.random()) * 3600
            fallback = rng.uniform(min(midnights[0], latest - 3600), latest)
            start = fallback if start > latest else start
        plans.append(_Plan(kind, final, shape, offsets, start, total))
    plans.sort(key=lambda p: p.start)
    return plans


def _meta(**fields: Any) -> dict[str, Any]:
    """A message's meta column as the rows converter writes it."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    message = Message(id="", session_id="", seq=1, sender=Sender.BOT, text="", at=at)
    meta: dict[str, Any] = rows.message_to_row(attrs.evolve(message, meta=MessageMeta(**fields)))[
        "meta"
    ]
    return meta


async def _team(
    conn: AsyncConnection, rng: Random, now: datetime, written: Counter[str]
) -> list[Operator]:
    """The operators, reusing those already present by username."""
    known = dict((await conn.execute(select(t.operators.c.username, t.operators.c.id))).all())
    team = [
        Operator(
            id=known.get(username) or rng.randbytes(16).hex(),
            username=username,
            display_name=name,
            password_hash=_UNUSABLE_HASH,
            role=role,
            availability=availability,
            capacity=6,
            created_at=now - timedelta(days=_DAYS + 30),
        )
        for username, name, availability, role in _TEAM
    ]
    fresh = [rows.operator_to_row(o) for o in team if o.username not in known]
    await _write(conn, t.operators, fresh, written)
    return team


class _Cast:
    """The fixed parts of every story: operators, knowledge base, phrases, the random source."""

    def __init__(self, rng: Random, team: list[Operator], now: datetime) -> None:
        self.rng = rng
        self.now = now.timestamp()
        self.staff = [o for o in team if not o.is_admin]
        self.online = sum(1 for o in team if o.availability is Availability.ONLINE)
        self.holders = itertools.cycle(
            [o for o in team if o.availability in {Availability.ONLINE, Availability.BUSY}]
        )
        items = sample_kb()
        self.kb = {
            lang: [i for i in items if i.language is lang] or items for lang, _ in _LANGUAGES
        }
        self.plain = _meta()
        self.bot = _meta(sources=("faq",), confidence=0.5)
        self.system = {k: _meta(kind=k) for k in ("queued", "timeout", "rating_request")}
        self.system["ticket_offer"] = _meta(kind="ticket_offer")
        self.system["ticket_created"] = _meta(kind="ticket_created")
        self.named = {o.id: _meta(operator_name=o.display_name) for o in team}
        self.joined = {
            o.id: _meta(kind="operator_joined", operator_name=o.display_name) for o in team
        }
        self.sla = SlaPolicy()

    def record_id(self) -> str:
        """A 128-bit hex id, as SecretsIdFactory.new_id makes."""
        return self.rng.randbytes(16).hex()

    def shifts(self, now: datetime, zone: ZoneInfo) -> Rows:
        """Every operator's daily log-in and log-out events."""
        out = []
        today = now.astimezone(zone).date()
        for days_ago, operator in itertools.product(range(_DAYS), self.staff):
            day = today - timedelta(days=days_ago)
            for hour, kind in ((9, "operator_login"), (18, "operator_logout")):
                at = _local(day, hour + self.rng.random(), zone)
                if at <= now:
                    payload = {"username": operator.username}
                    out.append(_event(kind, at, None, operator.id, payload))
        return out


def _local(day: date, hours: float, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, day_start.min, tzinfo=zone) + timedelta(hours=hours)


def _at(moment: float) -> datetime:
    return datetime.fromtimestamp(moment, UTC)


def _event(
    kind: str, at: datetime, session_id: str | None, operator_id: str | None, payload: Any
) -> dict[str, Any]:
    """An events row (the payload in the shape of its event type's class)."""
    return {
        "type": kind,
        "at": at,
        "session_id": session_id,
        "operator_id": operator_id,
        "payload": payload,
    }


class _Teller:
    """Turns one plan into rows of every table, recording events as the app would."""

    def __init__(self, cast: _Cast, plan: _Plan) -> None:
        rng = cast.rng
        self.cast, self.plan, self.rng = cast, plan, rng
        self.id = base64.urlsafe_b64encode(rng.randbytes(24)).decode()
        self.lang = rng.choices([lang for lang, _ in _LANGUAGES], [w for _, w in _LANGUAGES])[0]
        self.operator: Operator | None = None
        if plan.kind == "human":
            self.operator = next(cast.holders) if plan.final in _OPEN else rng.choice(cast.staff)
        self.item: KnowledgeBaseItem | None = rng.choice(cast.kb[self.lang])
        self.asked: float | None = None
        self.joined: float | None = None
        self.replied: float | None = None
        self.last = plan.start
        self.rating: int | None = None
        self.key: Rows = []  # events every story keeps
        self.chatter: Rows = []  # message events, thinned to the budget
        self.changes: list[StatusChange] = []
        self.out: dict[str, Rows] = {"messages": [], "queue": [], "tickets": [], "notes": []}

    @property
    def op(self) -> str | None:
        """The operator's id, in stories with one."""
        return self.operator.id if self.operator else None

    def event(
        self, kind: str, at: float, payload: Any, *, key: bool = True, by_op: bool = False
    ) -> None:
        """Record an event; ``by_op`` ones name the story's operator."""
        row = _event(kind, _at(at), self.id, self.op if by_op else None, payload)
        (self.key if key else self.chatter).append(row)

    def change(self, to: SessionStatus, at: float, actor: str, reason: str) -> None:
        """A state change and its chat_status_changed event."""
        before = self.changes[-1].to_status if self.changes else S.ACTIVE
        change = StatusChange(
            from_status=before, to_status=to, at=_at(at), actor=actor, reason=reason
        )
        self.changes.append(change)
        payload = {"from_status": before.value, "to_status": to.value}
        self.event(
            "chat_status_changed",
            at,
            payload | {"actor": actor, "reason": reason},
            by_op=actor.startswith("operator:"),
        )

    def message(
        self, sender: Sender, text: str, at: float, meta: dict[str, Any], **event: Any
    ) -> None:
        """A message and its chat_message event (kept when ``key``)."""
        found = self.out["messages"]
        moment, op = _at(at), self.op if sender is Sender.OPERATOR else None
        found.append(
            {
                "session_id": self.id,
                "seq": len(found) + 1,
                "id": self.cast.record_id(),
                "sender": sender.value,
                "text": text,
                "at": moment,
                "operator_id": op,
                "meta": meta,
            }
        )
        payload = {"sender": sender.value, "length": len(text), "response_ms": None} | event
        key = bool(payload.pop("key", False))
        row = _event("chat_message", moment, self.id, op, payload)
        (self.key if key else self.chatter).append(row)

    def visitor(self, at: float) -> None:
        """U: the visitor asks something, usually from the knowledge base."""
        self.item = self.rng.choice(self.cast.kb[self.lang])
        if self.rng.random() < _UNCOVERED_SHARE:
            self.item = None
            text = self.rng.choice(_UNCOVERED[self.lang])
            self.message(Sender.USER, text, at, self.cast.plain)
            return
        self.message(Sender.USER, self.item.question, at, self.cast.plain)

    def assistant(self, at: float) -> None:
        """B: the assistant answers from the knowledge base, or says it is unsure."""
        rng, item = self.rng, self.item
        if item is None:
            self._unsure(at)
            return
        confidence = round(rng.uniform(0.45, 0.98), 2)
        latency = round(rng.uniform(150, 1800))
        meta = self.cast.bot | {"sources": [item.id], "confidence": confidence}
        self.message(Sender.BOT, item.answer, at, meta, response_ms=latency)
        answer = {"sources": [item.id], "confidence": confidence, "latency_ms": latency}
        answer |= {"escalation_offered": False, "reasons": []}
        self.event("kb_answer", at, answer, key=False)

    def _unsure(self, at: float) -> None:
        confidence = round(self.rng.uniform(0.02, 0.3), 2)
        latency = round(self.rng.uniform(150, 900))
        reasons = ["low_confidence"]
        meta = _meta(confidence=confidence, escalation_reasons=tuple(reasons))
        self.message(Sender.BOT, say("not_sure", self.lang), at, meta, response_ms=latency)
        answer = {"sources": [], "confidence": confidence, "latency_ms": latency}
        answer |= {"escalation_offered": True, "reasons": reasons}
        self.event("kb_answer", at, answer)

    def ask_human(self, at: float) -> None:
        """A: the visitor asks for a person."""
        self.message(Sender.USER, self.rng.choice(_ASK_HUMAN[self.lang]), at, self.cast.plain)

    def queued(self, at: float) -> None:
        """Q: the chat joins the queue."""
        self.asked = at
        position = self.rng.randint(1, 4)
        text = say("queued", self.lang, position=position)
        self.message(Sender.SYSTEM, text, at, self.cast.system["queued"])
        request = {"trigger": "visitor", "available_operators": self.cast.online}
        self.event("escalation_request", at, request | {"queue_position": position})

    def operator_joins(self, at: float) -> None:
        """J: the operator takes the chat, automatically assigned."""
        assert self.operator is not None  # noqa: S101 - only human stories have a J
        self.joined = at
        self.change(S.WITH_OPERATOR, at, f"operator:{self.operator.id}", "auto")
        waited = at - (self.asked or at)
        connected = {"queue_seconds": waited, "assignment": "auto"}
        self.event("operator_connected", at, connected, by_op=True)
        text = say("operator_joined", self.lang, name=self.operator.display_name)
        self.message(Sender.SYSTEM, text, at, self.cast.joined[self.operator.id])

    def operator_writes(self, at: float) -> None:
        """O: the operator writes; the first reply carries the response time."""
        assert self.operator is not None  # noqa: S101 - only human stories have an O
        text = self.rng.choice(_OPERATOR_LINES[self.lang])
        first = self.replied is None
        response = round((at - (self.joined or at)) * 1000) if first else None
        self.replied = self.replied or at
        meta = self.cast.named[self.operator.id]
        self.message(Sender.OPERATOR, text, at, meta, response_ms=response, key=first)
        if response is not None:
            self.event("operator_first_response", at, {"response_ms": response}, by_op=True)

    def timeout(self, at: float) -> None:
        """T: the visitor went silent while an operator held the chat."""
        self.change(S.WAITING_CLIENT, at, "system", "visitor inactive")
        payload = {"inactivity_minutes": int(_IDLE_AFTER // 60), "status": "WAITING_CLIENT"}
        self.event("chat_timeout", at, payload, by_op=True)
        self.message(Sender.SYSTEM, say("timeout", self.lang), at, self.cast.system["timeout"])

    def close(self, at: float) -> None:
        """C: the operator closes the chat; some visitors rate it, some chats need a ticket."""
        assert self.operator is not None  # noqa: S101 - only human stories have a C
        final = self.plan.final
        closing = final if final is not S.ENDED else self.rng.choice(_CLOSINGS)
        self.change(closing, at, f"operator:{self.operator.id}", "closed by operator")
        resolved = {"duration_seconds": at - self.plan.start, "resolution": closing.value}
        self.event("chat_resolved", at, resolved, by_op=True)
        meta = self.cast.system["rating_request"]
        self.message(Sender.SYSTEM, say("closed", self.lang), at, meta)
        self.last = at
        if self.rng.random() < 0.4:  # noqa: PLR2004 - share of visitors who rate
            self.rating = self.rng.choices(range(1, 6), (1, 1, 2, 5, 8))[0]
            self.last += self.rng.uniform(20, 120)
            feedback = {"rating": self.rating, "has_comment": False}
            self.event("feedback_given", self.last, feedback, by_op=True)
        if self.rng.random() < 0.1:  # noqa: PLR2004 - share of chats that need a ticket
            self.ticket(self.last + 5, TicketSource.CHAT, self.rng.choice(_NOTES))

    def nobody_online(self, at: float) -> None:
        """F: nobody is online; the ticket form is offered."""
        failed = {"reason": "no_operator_online", "fallback": "ticket_form"}
        self.event("escalation_failed", at, failed)
        meta = self.cast.system["ticket_offer"]
        self.message(Sender.SYSTEM, say("no_operator", self.lang), at, meta)

    def ticket_sent(self, at: float) -> None:
        """K: the visitor sent the ticket form."""
        asked = self.item.question if self.item else "Richiesta di assistenza"
        ticket = self.ticket(at, TicketSource.WIDGET, asked)
        contact = ticket.contact.email or ""
        text = say("ticket_created", self.lang, ticket=ticket.id[:8], contact=contact)
        self.message(Sender.SYSTEM, text, at, self.cast.system["ticket_created"])

    def tell(self) -> dict[str, Rows]:
        """Every row of the story."""
        plan = self.plan
        self.event("session_started", plan.start, {"language": self.lang.value})
        for letter, offset in zip(plan.shape, plan.offsets, strict=True):
            _STEPS[letter](self, plan.start + offset)
        self.last = max(self.last, plan.start + plan.offsets[-1])
        if plan.kind == "human":
            self.queue(QueueStatus.ASSIGNED, self.joined)
            if self.rng.random() < 0.15:  # noqa: PLR2004 - share of chats with a note
                self.note(self.rng.uniform(self.joined or plan.start, self.last))
        elif plan.kind == "queued":
            self.queue(QueueStatus.WAITING, None)
        elif plan.kind == "abandoned":
            self.last += _END_AFTER
            self.queue(QueueStatus.CANCELLED, self.last)
            abandoned = {"stage": "queue", "waited_seconds": self.last - (self.asked or 0)}
            self.event("chat_abandoned", self.last, abandoned)
            self.change(S.ENDED, self.last, "system", "no activity")
        if plan.final in {S.IDLE, S.ENDED} and not self.changes:
            self.last += _IDLE_AFTER
            self.change(S.IDLE, self.last, "system", "visitor inactive")
        if plan.final is S.ENDED and self.changes[-1].to_status is not S.ENDED:
            self.last += _END_AFTER
            self.change(S.ENDED, self.last, "system", "no activity")
        return self.finish()

    def queue(self, status: QueueStatus, resolved: float | None) -> None:
        """The chat's request for a human."""
        entry = QueueEntry(
            id=self.cast.record_id(),
            session_id=self.id,
            requested_at=_at(self.asked if self.asked is not None else self.plan.start),
            priority=1 if self.rng.random() < 0.05 else 0,  # noqa: PLR2004 - a few VIPs
            status=status,
            operator_id=self.op if status is QueueStatus.ASSIGNED else None,
            resolved_at=_at(resolved) if resolved is not None else None,
            reason="session ended" if status is QueueStatus.CANCELLED else None,
        )
        self.out["queue"].append(rows.queue_to_row(entry))

    def note(self, at: float) -> None:
        """An operator's internal note."""
        text = self.rng.choice(_NOTES)
        note = InternalNote(
            id=self.cast.record_id(),
            session_id=self.id,
            operator_id=self.op or "",
            text=text,
            at=_at(at),
        )
        self.out["notes"].append(rows.note_to_row(note))
        self.event("internal_note_added", at, {"length": len(text)}, by_op=True)

    def ticket(self, at: float, source: TicketSource, description: str) -> Ticket:
        """A ticket (resolved if old enough, mostly) and its events."""
        rng, cast = self.rng, self.cast
        priority = rng.choices(list(TicketPriority), (1, 3, 8, 4))[0]
        person = rng.choice(_PEOPLE)
        email = f"{person.lower().replace(' ', '.')}{rng.randrange(10_000)}@example.com"
        target = cast.sla.ticket_target(priority).total_seconds()
        spent = target * rng.uniform(0.2, 1.6)
        solved = rng.random() < 0.85  # noqa: PLR2004 - most are solved, once they can be
        done = solved and at + spent < cast.now
        lines = self.out["messages"][-5:] if source is TicketSource.CHAT else []
        ticket = Ticket(
            id=cast.record_id(),
            subject=description[:200],
            description=description,
            priority=priority,
            status=rng.choice(_DONE if done else _PENDING),
            source=source,
            contact=Contact(name=person, email=email),
            created_at=_at(at),
            updated_at=_at(at + spent if done else at),
            due_at=_at(at + target),
            session_id=self.id,
            operator_id=self.op,
            resolved_at=_at(at + spent) if done else None,
            transcript=tuple(
                TranscriptLine(sender=Sender(m["sender"]), text=m["text"], at=m["at"])
                for m in lines
            ),
        )
        self.out["tickets"].append(rows.ticket_to_row(ticket))
        created = {"ticket_id": ticket.id, "source": source.value, "priority": priority.value}
        self.event("ticket_created", at, created | {"due_at": ticket.due_at.isoformat()})
        if lines:
            attached = {
                "chat_duration_seconds": at - self.plan.start,
                "messages_attached": len(lines),
            }
            self.event("ticket_from_chat", at, {"ticket_id": ticket.id} | attached, by_op=True)
        if done:
            outcome = {"resolution_seconds": spent, "within_sla": spent <= target}
            self.event("ticket_resolved", at + spent, {"ticket_id": ticket.id} | outcome)
        return ticket

    def finish(self) -> dict[str, Rows]:
        """The session row, its history and every other row of the story."""
        plan, messages = self.plan, self.out["messages"]
        session = ChatSession(
            id=self.id,
            status=plan.final,
            language=self.lang,
            created_at=_at(plan.start),
            last_activity_at=max(_at(self.last), messages[-1]["at"]),
            status_changed_at=self.changes[-1].at if self.changes else _at(plan.start),
            operator_id=self.op if self.joined is not None else None,
            assigned_at=_at(self.joined) if self.joined is not None else None,
            operator_replied_at=_at(self.replied) if self.replied is not None else None,
            message_count=len(messages),
            rating=self.rating,
            version=len(messages) + len(self.changes),
        )
        history = [rows.change_to_row(self.id, i, c) for i, c in enumerate(self.changes)]
        return {
            "sessions": [rows.session_to_row(session, history_count=len(self.changes))],
            "session_changes": history,
            "events": self.budget(),
            **self.out,
        }

    def budget(self) -> Rows:
        """Exactly the plan's number of events: the story's key events, then sampled chatter."""
        need = self.plan.events - len(self.key)
        if need <= 0:
            return self.key[: self.plan.events]
        if need <= len(self.chatter):
            return self.key + self.rng.sample(self.chatter, need)
        extra = [
            _event("smart_action_clicked", m["at"], self.id, None, {"action": "continue_ai"})
            for m in self.rng.choices(self.out["messages"], k=need - len(self.chatter))
        ]
        return self.key + self.chatter + extra


_STEPS: Mapping[str, Callable[[_Teller, float], None]] = {
    "U": _Teller.visitor,
    "B": _Teller.assistant,
    "A": _Teller.ask_human,
    "Q": _Teller.queued,
    "J": _Teller.operator_joins,
    "O": _Teller.operator_writes,
    "T": _Teller.timeout,
    "C": _Teller.close,
    "F": _Teller.nobody_online,
    "K": _Teller.ticket_sent,
}
_CLOSINGS = (S.RESOLVED, S.RESOLVED, S.RESOLVED, S.NOT_RESOLVED, S.CANCELLED)
_DONE = (TicketStatus.RESOLVED, TicketStatus.CLOSED)
_PENDING = (TicketStatus.OPEN, TicketStatus.IN_PROGRESS)
_TABLES = (
    ("sessions", t.sessions),
    ("session_changes", t.session_changes),
    ("messages", t.messages),
    ("queue", t.queue_entries),
    ("tickets", t.tickets),
    ("notes", t.notes),
    ("events", t.events),
)


def _tell_batch(cast: _Cast, plans: Sequence[_Plan]) -> dict[str, Rows]:
    """The rows of a batch of stories, each table in time order."""
    found: dict[str, Rows] = {name: [] for name, _ in _TABLES}
    for plan in plans:
        for name, told in _Teller(cast, plan).tell().items():
            found[name].extend(told)
    for name in ("messages", "notes", "events"):
        found[name].sort(key=lambda r: r["at"])
    return found


async def _write(conn: AsyncConnection, table: Table, found: Rows, written: Counter[str]) -> None:
    """Insert rows that all have the same keys."""
    if not found:
        return
    written[table.name] += len(found)
    columns = list(found[0])
    if conn.dialect.name == "postgresql":
        await _copy(conn, table, columns, found)
        return
    # SQLAlchemy's executemany minus its per-row bookkeeping (a quarter of the time):
    # the columns' own bind processors, then the driver's executemany.
    compiled = insert(table).compile(dialect=conn.dialect, column_keys=columns)
    order = list(compiled.positiontup or ())
    processors = [table.c[c].type.bind_processor(conn.dialect) for c in order]
    data = [
        tuple(p(row[c]) if p else row[c] for c, p in zip(order, processors, strict=True))
        for row in found
    ]
    await conn.exec_driver_sql(compiled.string, data)


async def _copy(conn: AsyncConnection, table: Table, columns: list[str], found: Rows) -> None:
    """COPY rows into a Postgres table, in the transaction of ``conn``."""
    wrap = [isinstance(table.c[c].type, JSON) for c in columns]
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    async with (await _driver(conn)).cursor() as cursor, cursor.copy(statement) as copy:
        for row in found:
            await copy.write_row(
                [Json(row[c]) if w else row[c] for c, w in zip(columns, wrap, strict=True)]
            )


async def _driver(conn: AsyncConnection) -> Any:
    """The driver's own connection under ``conn`` (aiosqlite's or psycopg's)."""
    raw = (await conn.get_raw_connection()).driver_connection
    assert raw is not None  # noqa: S101 - an open connection has its driver's
    return raw


async def _pragma(driver: Any, setting: str) -> None:
    """Set a SQLite pragma on aiosqlite's connection, outside any transaction."""
    cursor = await driver.execute(f"PRAGMA {setting}")
    await cursor.close()
