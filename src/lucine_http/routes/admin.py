"""/api/admin: operator accounts, the audit trail and privacy requests (admins only)."""

# Litestar reads handler annotations at run time: no postponed evaluation here.

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Router, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, QueryParameter

from lucine_core.audit import AuditEntry
from lucine_core.enums import Role
from lucine_core.operators import Operator
from lucine_core.services.operators import create_operator, list_operators, update_operator
from lucine_core.services.privacy import (
    audit_trail,
    erase_contact,
    erase_session,
    export_contact,
    export_session,
)
from lucine_http.deps import App, admin
from lucine_http.routes.operators import OperatorOut, operator_out
from lucine_http.schemas import Camel

__all__ = ["AuditOut", "audit_out", "router"]

Name = Annotated[str, msgspec.Meta(max_length=100)]
Password = Annotated[str, msgspec.Meta(max_length=1024)]
Email = Annotated[str, msgspec.Meta(max_length=254)]


class OperatorIn(Camel):
    """A new operator account."""

    username: Name
    display_name: Name
    password: Password
    role: Role = Role.OPERATOR
    capacity: int = 3


class OperatorPatch(Camel):
    """What to change on an account; absent fields stay as they are."""

    display_name: Name | None = None
    capacity: int | None = None
    role: Role | None = None
    disabled: bool | None = None
    password: Password | None = None


class AuditOut(Camel):
    """One line of the audit trail."""

    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    details: dict[str, str]


class EmailIn(Camel):
    """A contact's e-mail address."""

    email: Email


class RemovedOut(Camel):
    """How many records an erasure deleted."""

    removed: int


def audit_out(entry: AuditEntry) -> AuditOut:
    """The wire form of an audit entry."""
    return AuditOut(
        id=entry.id,
        at=entry.at,
        actor=entry.actor,
        action=entry.action.value,
        subject=entry.subject,
        details=dict(entry.details),
    )


@get("/operators", summary="Every operator with their current load")
async def list_operators_route(
    app: NamedDependency[App], me: NamedDependency[Operator]
) -> list[OperatorOut]:
    """Including disabled accounts."""
    return [operator_out(o) for o in await list_operators(app.services)]


@post("/operators", status_code=201, summary="Create an operator account")
async def create_operator_route(
    data: JSONBody[OperatorIn], app: NamedDependency[App], me: NamedDependency[Operator]
) -> OperatorOut:
    """409 when the username is taken."""
    view = await create_operator(
        app.services,
        actor_id=me.id,
        username=data.username,
        display_name=data.display_name,
        password=data.password,
        role=data.role,
        capacity=data.capacity,
    )
    return operator_out(view)


@patch("/operators/{operator_id:str}", summary="Change an operator account")
async def update_operator_route(
    operator_id: FromPath[str],
    data: JSONBody[OperatorPatch],
    app: NamedDependency[App],
    me: NamedDependency[Operator],
) -> OperatorOut:
    """Disabling an account or changing its password logs it out everywhere."""
    view = await update_operator(
        app.services,
        actor_id=me.id,
        operator_id=operator_id,
        display_name=data.display_name,
        capacity=data.capacity,
        role=data.role,
        disabled=data.disabled,
        password=data.password,
    )
    return operator_out(view)


@get("/audit", summary="The audit trail, newest first")
async def audit_route(
    app: NamedDependency[App],
    me: NamedDependency[Operator],
    subject: Annotated[
        str | None, QueryParameter(max_length=100, description="Only entries about this id")
    ] = None,
    since: Annotated[
        datetime | None, QueryParameter(description="Only entries from this time")
    ] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=1000, description="At most this many")] = 200,
) -> list[AuditOut]:
    """Reading the trail is itself audited."""
    entries = await audit_trail(
        app.services, actor_id=me.id, since=since, subject=subject or None, limit=limit
    )
    return [audit_out(e) for e in entries]


@get("/privacy/sessions/{session_id:str}", summary="Export everything about one chat")
async def export_session_route(
    session_id: FromPath[str], app: NamedDependency[App], me: NamedDependency[Operator]
) -> dict[str, Any]:
    """Session, messages, notes, tickets and events as JSON; the export is audited."""
    return await export_session(app.services, actor_id=me.id, session_id=session_id)


@delete("/privacy/sessions/{session_id:str}", status_code=200, summary="Erase one chat")
async def erase_session_route(
    session_id: FromPath[str], app: NamedDependency[App], me: NamedDependency[Operator]
) -> RemovedOut:
    """The audit trail keeps that it happened, not what was said."""
    removed = await erase_session(app.services, actor_id=me.id, session_id=session_id)
    return RemovedOut(removed=removed)


@post("/privacy/contacts/export", status_code=200, summary="Export everything about a contact")
async def export_contact_route(
    data: JSONBody[EmailIn], app: NamedDependency[App], me: NamedDependency[Operator]
) -> dict[str, Any]:
    """The contact's tickets and the chats they came from."""
    return await export_contact(app.services, actor_id=me.id, email=data.email)


@post("/privacy/contacts/erase", status_code=200, summary="Erase everything about a contact")
async def erase_contact_route(
    data: JSONBody[EmailIn], app: NamedDependency[App], me: NamedDependency[Operator]
) -> RemovedOut:
    """The audit trail keeps a hash of the address, not the address."""
    removed = await erase_contact(app.services, actor_id=me.id, email=data.email)
    return RemovedOut(removed=removed)


router = Router(
    path="/api/admin",
    route_handlers=[
        list_operators_route,
        create_operator_route,
        update_operator_route,
        audit_route,
        export_session_route,
        erase_session_route,
        export_contact_route,
        erase_contact_route,
    ],
    dependencies={"me": Provide(admin)},
    tags=["admin"],
)
