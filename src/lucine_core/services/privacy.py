"""Privacy by default: export and erase everything about a visitor, purge what is too old.

Exports are plain JSON-able dicts. Erasure removes the session's messages, notes,
queue entries, analytics events and tickets; the audit trail keeps that it happened
(with the session id, or a hash of the e-mail address) but none of the content.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import attrs

from lucine_core.actors import SYSTEM, Actor
from lucine_core.audit import AuditEntry
from lucine_core.enums import AuditAction
from lucine_core.ports import UnitOfWork
from lucine_core.services.common import active_operator, require_admin, write_audit
from lucine_core.services.context import Services, transaction
from lucine_core.tickets import normalise_email

__all__ = [
    "PurgeReport",
    "audit_trail",
    "erase_contact",
    "erase_session",
    "export_contact",
    "export_session",
    "purge_expired",
    "to_jsonable",
]


def _serialise(_instance: object, _field: object, value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, frozenset | set):
        return sorted(value)
    if isinstance(value, Mapping):
        return dict(value)
    return value


async def _admin_or_system(uow: UnitOfWork, actor_id: str | None, action: str) -> Actor:
    """Who acts: an admin (checked) or, for ``None``, the local command line as SYSTEM."""
    if actor_id is None:
        return SYSTEM
    require_admin(await active_operator(uow, actor_id), action)
    return Actor.operator(actor_id)


def to_jsonable(obj: Any) -> Any:
    """An attrs instance (or a list of them) as JSON-able dicts."""
    if isinstance(obj, list | tuple):
        return [to_jsonable(o) for o in obj]
    return attrs.asdict(
        obj, value_serializer=_serialise, filter=lambda a, _v: a.name != "pending_events"
    )


async def _session_bundle(uow: UnitOfWork, session_id: str) -> dict[str, Any]:
    session = await uow.sessions.get(session_id)
    return {
        "session": to_jsonable(session),
        "messages": to_jsonable(list(await uow.messages.list(session_id))),
        "notes": to_jsonable(list(await uow.notes.list(session_id))),
        "tickets": to_jsonable(list(await uow.tickets.list(session_id=session_id, limit=1000))),
        "events": to_jsonable(list(await uow.events.list(session_id=session_id))),
    }


async def export_session(
    services: Services, *, actor_id: str | None, session_id: str
) -> dict[str, Any]:
    """Everything stored about one session, as JSON-able data; the export is audited.

    ``actor_id`` None is the local command line, audited as ``system``.

    Raises:
        NotFoundError: unknown session.
        PermissionDeniedError: the actor is not an admin.
    """

    async def work(uow: UnitOfWork) -> dict[str, Any]:
        actor = await _admin_or_system(uow, actor_id, "export data")
        bundle = await _session_bundle(uow, session_id)
        await write_audit(uow, actor, AuditAction.EXPORT, services.clock.now(), session_id)
        return bundle

    return await transaction(services, work)


def _email_subject(email: str) -> str:
    return "email-sha256:" + hashlib.sha256(email.encode()).hexdigest()[:16]


async def export_contact(services: Services, *, actor_id: str | None, email: str) -> dict[str, Any]:
    """Everything stored about a contact e-mail: their tickets and the chats they came from.

    ``actor_id`` None is the local command line, audited as ``system``.

    Raises:
        ValidationError: not an e-mail address.
        PermissionDeniedError: the actor is not an admin.
    """
    address = normalise_email(email)

    async def work(uow: UnitOfWork) -> dict[str, Any]:
        actor = await _admin_or_system(uow, actor_id, "export data")
        tickets = await uow.tickets.list(email=address, limit=10_000)
        session_ids = sorted({t.session_id for t in tickets if t.session_id})
        sessions = [await _session_bundle(uow, sid) for sid in session_ids]
        await write_audit(
            uow,
            actor,
            AuditAction.EXPORT,
            services.clock.now(),
            _email_subject(address),
        )
        return {"email": address, "tickets": to_jsonable(list(tickets)), "sessions": sessions}

    return await transaction(services, work)


async def _erase_session(uow: UnitOfWork, session_id: str) -> int:
    removed = 0
    for ticket in await uow.tickets.list(session_id=session_id, limit=10_000):
        await uow.tickets.delete(ticket.id)
        removed += 1
    removed += await uow.messages.delete_for_session(session_id)
    removed += await uow.notes.delete_for_session(session_id)
    removed += await uow.queue.delete_for_session(session_id)
    removed += await uow.events.delete_for_session(session_id)
    await uow.sessions.delete(session_id)
    return removed + 1


async def erase_session(services: Services, *, actor_id: str | None, session_id: str) -> int:
    """Delete everything about one session; returns how many records went.

    ``actor_id`` None is the local command line, audited as ``system``.

    Raises:
        NotFoundError: unknown session.
        PermissionDeniedError: the actor is not an admin.
    """

    async def work(uow: UnitOfWork) -> int:
        actor = await _admin_or_system(uow, actor_id, "erase data")
        await uow.sessions.get(session_id)
        removed = await _erase_session(uow, session_id)
        await write_audit(
            uow,
            actor,
            AuditAction.ERASE,
            services.clock.now(),
            session_id,
            records=str(removed),
        )
        return removed

    return await transaction(services, work)


async def erase_contact(services: Services, *, actor_id: str | None, email: str) -> int:
    """Delete a contact's tickets and the chats they came from; returns how many records went.

    ``actor_id`` None is the local command line, audited as ``system``.

    Raises:
        ValidationError: not an e-mail address.
        PermissionDeniedError: the actor is not an admin.
    """
    address = normalise_email(email)

    async def work(uow: UnitOfWork) -> int:
        actor = await _admin_or_system(uow, actor_id, "erase data")
        tickets = await uow.tickets.list(email=address, limit=10_000)
        removed = 0
        for sid in sorted({t.session_id for t in tickets if t.session_id}):
            removed += await _erase_session(uow, sid)
        for ticket in await uow.tickets.list(email=address, limit=10_000):
            await uow.tickets.delete(ticket.id)
            removed += 1
        await write_audit(
            uow,
            actor,
            AuditAction.ERASE,
            services.clock.now(),
            _email_subject(address),
            records=str(removed),
        )
        return removed

    return await transaction(services, work)


@attrs.frozen(kw_only=True)
class PurgeReport:
    """What the retention purge removed."""

    sessions: int
    events: int
    audit: int


async def purge_expired(services: Services, *, batch: int = 1000) -> PurgeReport:
    """Delete chats, analytics and audit entries older than the retention policy allows."""
    now = services.clock.now()
    retention = services.policies.retention

    async def work(uow: UnitOfWork) -> PurgeReport:
        old = await uow.sessions.list_created_before(now - retention.chats, limit=batch)
        for session_id in old:
            await _erase_session(uow, session_id)
        events = await uow.events.delete_before(now - retention.analytics)
        audit = await uow.audit.delete_before(now - retention.audit)
        report = PurgeReport(sessions=len(old), events=events, audit=audit)
        if old or events or audit:
            await write_audit(
                uow,
                SYSTEM,
                AuditAction.PURGE,
                now,
                "",
                **{k: str(v) for k, v in attrs.asdict(report).items()},
            )
        return report

    return await transaction(services, work)


async def audit_trail(
    services: Services,
    *,
    actor_id: str | None,
    since: datetime | None = None,
    actor: str | None = None,
    subject: str | None = None,
    limit: int = 200,
) -> Sequence[AuditEntry]:
    """The audit trail, newest first; reading it is itself audited.

    ``actor_id`` is who reads it (None: the local command line, audited as ``system``);
    ``actor`` keeps only the entries of one actor (``system``, ``operator:<id>``).

    Raises:
        PermissionDeniedError: the actor is not an admin.
    """

    async def work(uow: UnitOfWork) -> Sequence[AuditEntry]:
        reader = await _admin_or_system(uow, actor_id, "read the audit trail")
        entries = await uow.audit.list(since=since, actor=actor, subject=subject, limit=limit)
        await write_audit(uow, reader, AuditAction.VIEW_AUDIT, services.clock.now())
        return entries

    return await transaction(services, work)
