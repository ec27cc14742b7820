"""The composition root: Settings in, one Services with an instance per port out."""

from __future__ import annotations

from collections.abc import Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from lucine_adapters.kb import Bm25KnowledgeBase
from lucine_adapters.kb.bm25 import DEFAULT_MIN_CONFIDENCE
from lucine_adapters.kb.loader import load_kb, sample_kb
from lucine_adapters.memory import InMemoryDatabase
from lucine_adapters.notify import InMemoryNotifier, LogNotifier
from lucine_adapters.passwords import BcryptPasswordHasher
from lucine_adapters.realtime import InMemoryEventPublisher
from lucine_adapters.responders import KbResponder
from lucine_adapters.settings import Settings
from lucine_adapters.system import FixedClock, SecretsIdFactory, SystemClock
from lucine_core.errors import ValidationError
from lucine_core.escalation import EscalationPolicy
from lucine_core.kb import KnowledgeBaseItem
from lucine_core.ports import Clock, Notifier
from lucine_core.services import Policies, Services

__all__ = ["bootstrap", "bootstrap_in_memory"]


def _policies(settings: Settings, base: Policies | None = None) -> Policies:
    try:
        ZoneInfo(settings.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(field="LUCINE_TIMEZONE", reason="unknown time zone") from None
    base = base or Policies()
    threshold = (
        settings.min_confidence if settings.min_confidence is not None else DEFAULT_MIN_CONFIDENCE
    )
    return attrs.evolve(
        base,
        escalation=attrs.evolve(base.escalation, min_confidence=threshold),
        auto_assign=settings.auto_assign,
        timezone=settings.timezone,
    )


def bootstrap(settings: Settings) -> Services:
    """Build the services the settings ask for (today: the in-memory store, offline answering)."""
    items = load_kb(settings.kb_path) if settings.kb_path else sample_kb()
    policies = _policies(settings)
    return Services(
        uow=InMemoryDatabase(),
        clock=SystemClock(),
        ids=SecretsIdFactory(),
        kb=Bm25KnowledgeBase(items),
        responder=KbResponder(policies.escalation.min_confidence),
        hasher=BcryptPasswordHasher(settings.bcrypt_rounds),
        notifier=LogNotifier(),
        publisher=InMemoryEventPublisher(),
        policies=policies,
    )


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
        policies=base,
    )
