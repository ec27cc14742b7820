"""Lucine's core: the chat-support domain and its use cases, with no I/O.

Depends only on the standard library and attrs. Adapters implement the ports in
``lucine_core.ports``; use cases in ``lucine_core.services`` run over them.
"""

from lucine_core.enums import (
    Availability,
    EventType,
    Language,
    Role,
    Sender,
    SessionStatus,
    TicketPriority,
    TicketStatus,
)
from lucine_core.errors import (
    AuthenticationError,
    ConcurrencyError,
    ConflictError,
    ExternalServiceError,
    IllegalTransitionError,
    LucineError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from lucine_core.kb import Answer, AnswerRequest, KnowledgeBaseItem, RetrievedItem
from lucine_core.services import Policies, Services

__all__ = [
    "Answer",
    "AnswerRequest",
    "AuthenticationError",
    "Availability",
    "ConcurrencyError",
    "ConflictError",
    "EventType",
    "ExternalServiceError",
    "IllegalTransitionError",
    "KnowledgeBaseItem",
    "Language",
    "LucineError",
    "NotFoundError",
    "PermissionDeniedError",
    "Policies",
    "RetrievedItem",
    "Role",
    "Sender",
    "Services",
    "SessionStatus",
    "TicketPriority",
    "TicketStatus",
    "ValidationError",
]
