"""Tickets (follow-ups outside the chat) and operators' internal notes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType

import attrs

from lucine_core import events as ev
from lucine_core.enums import Sender, TicketPriority, TicketSource, TicketStatus
from lucine_core.errors import ConflictError, ValidationError

__all__ = [
    "Contact",
    "InternalNote",
    "Ticket",
    "TranscriptLine",
    "normalise_email",
    "normalise_phone",
]

_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+")
_PHONE = re.compile(r"\+?[0-9]{6,15}")

_TICKET_MOVES: Mapping[TicketStatus, frozenset[TicketStatus]] = MappingProxyType(
    {
        TicketStatus.OPEN: frozenset(
            {
                TicketStatus.IN_PROGRESS,
                TicketStatus.WAITING_CUSTOMER,
                TicketStatus.RESOLVED,
                TicketStatus.CLOSED,
            }
        ),
        TicketStatus.IN_PROGRESS: frozenset(
            {
                TicketStatus.OPEN,
                TicketStatus.WAITING_CUSTOMER,
                TicketStatus.RESOLVED,
                TicketStatus.CLOSED,
            }
        ),
        TicketStatus.WAITING_CUSTOMER: frozenset(
            {TicketStatus.IN_PROGRESS, TicketStatus.RESOLVED, TicketStatus.CLOSED}
        ),
        TicketStatus.RESOLVED: frozenset({TicketStatus.IN_PROGRESS, TicketStatus.CLOSED}),
        TicketStatus.CLOSED: frozenset(),
    }
)
"""Which ticket statuses may follow which; CLOSED is final."""


def normalise_email(email: str) -> str:
    """Return the address lower-cased and trimmed.

    Raises:
        ValidationError: it does not look like an e-mail address.
    """
    value = email.strip().lower()
    if len(value) > 254 or not _EMAIL.fullmatch(value):  # noqa: PLR2004 - RFC 5321 limit
        raise ValidationError(field="email", reason="is not a valid e-mail address")
    return value


def normalise_phone(phone: str) -> str:
    """Return the number without spaces, dots, dashes or brackets.

    Raises:
        ValidationError: it is not 6-15 digits with an optional leading +.
    """
    value = re.sub(r"[\s.()/-]", "", phone)
    if not _PHONE.fullmatch(value):
        raise ValidationError(field="phone", reason="is not a valid phone number")
    return value


@attrs.frozen(kw_only=True)
class Contact:
    """How to reach a visitor; at least an e-mail address or a phone number."""

    name: str | None = None
    email: str | None = None
    phone: str | None = None

    @classmethod
    def parse(cls, *, name: str | None, email: str | None, phone: str | None) -> Contact:
        """Validate and normalise contact details.

        Raises:
            ValidationError: neither e-mail nor phone, or either is malformed.
        """
        email = normalise_email(email) if email and email.strip() else None
        phone = normalise_phone(phone) if phone and phone.strip() else None
        if email is None and phone is None:
            raise ValidationError(
                field="email", reason="an e-mail address or a phone number is required"
            )
        clean_name = name.strip()[:120] if name and name.strip() else None
        return cls(name=clean_name, email=email, phone=phone)


@attrs.frozen(kw_only=True)
class TranscriptLine:
    """A chat message copied into a ticket."""

    sender: Sender
    text: str
    at: datetime


@attrs.define(kw_only=True)
class Ticket:
    """A follow-up that outlives the chat, with a resolution target by priority."""

    id: str
    subject: str
    description: str
    priority: TicketPriority
    status: TicketStatus
    source: TicketSource
    contact: Contact
    created_at: datetime
    updated_at: datetime
    due_at: datetime
    session_id: str | None = None
    operator_id: str | None = None
    resolved_at: datetime | None = None
    transcript: tuple[TranscriptLine, ...] = ()
    sla_alerts: frozenset[str] = frozenset()
    pending_events: list[ev.AnalyticsEvent] = attrs.field(factory=list, eq=False, repr=False)

    def move_to(self, status: TicketStatus, at: datetime) -> None:
        """Change status along the allowed moves; reaching RESOLVED records ticket_resolved.

        Raises:
            ConflictError: the move is not allowed (e.g. out of CLOSED).
        """
        if status is self.status:
            return
        if status not in _TICKET_MOVES[self.status]:
            raise ConflictError(reason=f"a {self.status.value} ticket cannot become {status.value}")
        self.status = status
        self.updated_at = at
        if status is TicketStatus.RESOLVED:
            self.resolved_at = at
            self.pending_events.append(
                ev.AnalyticsEvent(
                    payload=ev.TicketResolved(
                        ticket_id=self.id,
                        resolution_seconds=(at - self.created_at).total_seconds(),
                        within_sla=at <= self.due_at,
                    ),
                    at=at,
                    session_id=self.session_id,
                    operator_id=self.operator_id,
                )
            )
        elif status is not TicketStatus.CLOSED:
            self.resolved_at = None

    def take_events(self) -> list[ev.AnalyticsEvent]:
        """Hand over the recorded events and forget them."""
        taken, self.pending_events = self.pending_events, []
        return taken


@attrs.frozen(kw_only=True)
class InternalNote:
    """An operator's note on a session; never shown to the visitor."""

    id: str
    session_id: str
    operator_id: str
    text: str
    at: datetime
