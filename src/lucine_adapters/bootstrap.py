"""The composition root: Settings in, one Services with an instance per port out."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs
from redis.asyncio import Redis

from lucine_adapters.kb import Bm25KnowledgeBase
from lucine_adapters.kb.bm25 import DEFAULT_MIN_CONFIDENCE
from lucine_adapters.kb.embedding import (
    BreakerEmbedder,
    BundledEmbedder,
    Embedder,
    one_blas_thread,
)
from lucine_adapters.kb.grouping import EmbeddingGrouper
from lucine_adapters.kb.hybrid import DEFAULT_THRESHOLD, HybridKnowledgeBase
from lucine_adapters.kb.loader import load_kb, sample_kb
from lucine_adapters.memory import InMemoryDatabase
from lucine_adapters.notifiers import (
    DispatchingNotifier,
    InMemoryNotifier,
    LogNotifier,
    SmtpNotifier,
    TwilioNotifier,
    WebhookNotifier,
)
from lucine_adapters.notifiers.dispatch import EMAIL, SMS, WEBHOOK
from lucine_adapters.passwords import BcryptPasswordHasher
from lucine_adapters.ratelimit import InMemoryRateLimiter, RedisRateLimiter, SqlRateLimiter
from lucine_adapters.realtime import (
    InMemoryEventPublisher,
    PostgresEventPublisher,
    RedisEventPublisher,
)
from lucine_adapters.responders import KbResponder
from lucine_adapters.settings import Settings
from lucine_adapters.sql.database import SqlDatabase, make_engine
from lucine_adapters.sql.kb import SqlKnowledgeBase
from lucine_adapters.system import FixedClock, SecretsIdFactory, SystemClock
from lucine_adapters.tokens import MIN_KEY_BYTES, JwtTokenIssuer
from lucine_core.errors import ValidationError
from lucine_core.escalation import EscalationPolicy
from lucine_core.kb import KnowledgeBaseItem
from lucine_core.ports import (
    Clock,
    EventPublisher,
    KnowledgeBase,
    Notifier,
    RateLimiter,
    Responder,
    UnitOfWorkFactory,
)
from lucine_core.services import Policies, Services

__all__ = [
    "bootstrap",
    "bootstrap_in_memory",
    "close",
    "embedder",
    "running",
    "secret_key",
]


def _policies(settings: Settings, base: Policies | None = None) -> Policies:
    try:
        ZoneInfo(settings.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(field="LUCINE_TIMEZONE", reason="unknown time zone") from None
    base = base or Policies()
    default = DEFAULT_MIN_CONFIDENCE if settings.embeddings.backend == "off" else DEFAULT_THRESHOLD
    threshold = settings.min_confidence if settings.min_confidence is not None else default
    return attrs.evolve(
        base,
        escalation=attrs.evolve(base.escalation, min_confidence=threshold),
        auto_assign=settings.auto_assign,
        timezone=settings.timezone,
        # A model reads the top five candidates; the offline responder needs three.
        retrieval_limit=5 if settings.llm is not None else base.retrieval_limit,
    )


def embedder(settings: Settings) -> Embedder | None:
    """The sentence encoder the settings ask for; None when semantic retrieval is off."""
    config = settings.embeddings
    if config.backend == "off":
        return None
    if config.backend == "openai":
        # Imported here: the OpenAI SDK costs 23 MB in every worker that never uses it.
        from lucine_adapters.kb.remote import OpenAiEmbedder  # noqa: PLC0415

        remote = OpenAiEmbedder(
            config.model,
            base_url=config.base_url,
            api_key=config.api_key,
            timeout=config.timeout,
            max_retries=config.max_retries,
        )
        return BreakerEmbedder(remote)
    return BundledEmbedder()


def secret_key(settings: Settings) -> bytes:
    """The token signing key: from settings, else a key file made once with the CSPRNG."""
    if settings.secret_key is not None:
        return settings.secret_key
    path = settings.data_dir / "secret.key"
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    key = path.read_text().strip().encode()
    if len(key) < MIN_KEY_BYTES:
        raise ValidationError(field=str(path), reason=f"must hold at least {MIN_KEY_BYTES} bytes")
    return key


# A Redis that does not answer within this is down: limits and fan-out go per process.
_REDIS_TIMEOUT_SECONDS = 2.0


def _publisher(settings: Settings, database: SqlDatabase) -> EventPublisher:
    """Where realtime events go: across workers, or in this process on SQLite.

    Redis pub/sub when configured, else Postgres LISTEN/NOTIFY on Postgres, else in-process.
    """
    if settings.redis_url:
        # No read timeout: a subscription waits for events as long as it lives.
        return RedisEventPublisher(
            Redis.from_url(settings.redis_url, socket_connect_timeout=_REDIS_TIMEOUT_SECONDS)
        )
    if database.dialect == "postgresql":
        return PostgresEventPublisher(database.engine)
    return InMemoryEventPublisher()


def _limiter(settings: Settings, database: SqlDatabase) -> RateLimiter:
    """Redis when configured, else the database on Postgres (both shared), else in-process."""
    if settings.redis_url:
        redis = Redis.from_url(
            settings.redis_url,
            socket_connect_timeout=_REDIS_TIMEOUT_SECONDS,
            socket_timeout=_REDIS_TIMEOUT_SECONDS,
        )
        return RedisRateLimiter(redis)
    if database.dialect == "postgresql":
        return SqlRateLimiter(database.engine)
    return InMemoryRateLimiter()


def _storage(settings: Settings) -> SqlDatabase:
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SqlDatabase(make_engine(url, pool_size=settings.db_pool_size))


def _responder(settings: Settings, min_confidence: float) -> Responder:
    """The offline responder, or the configured LLM behind a breaker falling back to it."""
    offline = KbResponder(min_confidence)
    if settings.llm is None:
        return offline
    from lucine_adapters.llm import BreakerResponder, OpenAiResponder  # noqa: PLC0415 - as above

    llm = OpenAiResponder(settings.llm, min_confidence=min_confidence)
    return BreakerResponder(llm, offline, session_token_budget=settings.llm.session_token_budget)


# How long shutdown waits for notifications still being delivered (then cancels them).
_NOTIFY_DRAIN_SECONDS = 10.0


def _notifier(settings: Settings) -> Notifier:
    """The log, and the configured webhook, e-mail and Twilio channels in the background."""
    config = settings.notify
    channels: dict[str, Notifier] = {}
    if config.webhook is not None:
        hook = config.webhook
        channels[WEBHOOK] = WebhookNotifier(hook.url, hook.secret, allow_private=hook.allow_private)
    if config.smtp is not None:
        smtp = config.smtp
        channels[EMAIL] = SmtpNotifier(
            smtp.host,
            smtp.port,
            smtp.sender,
            smtp.team,
            username=smtp.username,
            password=smtp.password,
            security=smtp.security,
        )
    if config.twilio is not None:
        twilio = config.twilio
        channels[SMS] = TwilioNotifier(
            twilio.account_sid,
            twilio.auth_token,
            twilio.sender,
            twilio.team,
            channel=twilio.channel,
        )
    return DispatchingNotifier(channels, routes=config.routes, log=LogNotifier())


def bootstrap(settings: Settings, *, in_memory: bool = False) -> Services:
    """Build the services the settings ask for: SQLite by default, Postgres by DATABASE_URL.

    With ``in_memory`` the stores live in this process only (``lucine ask`` and
    ``lucine chat``). Nothing connects here; the first unit of work does. The caller
    closes the engine with ``await close(services)`` (or uses ``running``). The schema
    must exist: ``lucine db upgrade``.

    The knowledge base lives in the database; ``LUCINE_KB`` (else the sample) seeds a
    database that never had one.
    """
    one_blas_thread()
    items = load_kb(settings.kb_path) if settings.kb_path else sample_kb()
    policies = _policies(settings)
    uow: UnitOfWorkFactory
    kb: KnowledgeBase
    publisher: EventPublisher
    limiter: RateLimiter
    encoder = embedder(settings)
    threshold = policies.escalation.min_confidence
    if in_memory:
        uow = InMemoryDatabase()
        publisher = InMemoryEventPublisher()
        limiter = InMemoryRateLimiter()
        kb = (
            Bm25KnowledgeBase(items)
            if encoder is None
            else HybridKnowledgeBase(encoder, items, threshold=threshold)
        )
    else:
        database = _storage(settings)
        uow = database
        publisher = _publisher(settings, database)
        limiter = _limiter(settings, database)
        kb = SqlKnowledgeBase(database.engine, items, embedder=encoder, threshold=threshold)
    return Services(
        uow=uow,
        clock=SystemClock(),
        ids=SecretsIdFactory(),
        kb=kb,
        responder=_responder(settings, policies.escalation.min_confidence),
        hasher=BcryptPasswordHasher(settings.bcrypt_rounds),
        notifier=LogNotifier() if in_memory else _notifier(settings),
        publisher=publisher,
        tokens=JwtTokenIssuer(secrets.token_bytes(32) if in_memory else secret_key(settings)),
        limiter=limiter,
        grouper=EmbeddingGrouper(encoder or BundledEmbedder()),
        policies=policies,
    )


async def close(services: Services) -> None:
    """Release what the services hold: notifications in flight, database connections."""
    if isinstance(services.notifier, DispatchingNotifier):
        await services.notifier.drain(grace=_NOTIFY_DRAIN_SECONDS)
    if isinstance(services.publisher, PostgresEventPublisher):
        await services.publisher.aclose()
    if isinstance(services.uow, SqlDatabase):
        await services.uow.dispose()


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Services]:
    """The services of ``settings`` for the duration of the block, closed afterwards."""
    services = bootstrap(settings)
    try:
        yield services
    finally:
        await close(services)


def bootstrap_in_memory(
    *,
    kb_items: Iterable[KnowledgeBaseItem] | None = None,
    clock: Clock | None = None,
    notifier: Notifier | None = None,
    policies: Policies | None = None,
    bcrypt_rounds: int = 4,
) -> Services:
    """Everything in memory, on a hand-moved clock: for tests, demos and embedding.

    Defaults: the sample knowledge base, a FixedClock, a recording notifier, bcrypt at
    its minimum cost (fast; never use it for real passwords).
    """
    threshold = DEFAULT_MIN_CONFIDENCE
    base = policies or Policies(escalation=EscalationPolicy(min_confidence=threshold))
    return Services(
        uow=InMemoryDatabase(),
        clock=clock or FixedClock(),
        ids=SecretsIdFactory(),
        kb=Bm25KnowledgeBase(sample_kb() if kb_items is None else kb_items),
        responder=KbResponder(base.escalation.min_confidence),
        hasher=BcryptPasswordHasher(bcrypt_rounds),
        notifier=notifier or InMemoryNotifier(),
        publisher=InMemoryEventPublisher(),
        tokens=JwtTokenIssuer(secrets.token_bytes(32)),
        limiter=InMemoryRateLimiter(),
        grouper=EmbeddingGrouper(BundledEmbedder()),
        policies=base,
    )
