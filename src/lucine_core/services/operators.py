"""Operator accounts: creation, login, availability, administration."""

from __future__ import annotations

from collections.abc import Sequence

from lucine_core import events as ev
from lucine_core.actors import SYSTEM, Actor
from lucine_core.enums import AuditAction, Availability, Role
from lucine_core.errors import AuthenticationError, NotFoundError, ValidationError
from lucine_core.operators import Operator, OperatorView, validate_username
from lucine_core.ports import RealtimeEvent, UnitOfWork
from lucine_core.services.common import (
    OPERATORS_CHANNEL,
    active_operator,
    require_admin,
    write_audit,
)
from lucine_core.services.context import Services, publish_all, transaction
from lucine_core.services.handoff import assign_waiting

__all__ = [
    "authenticate",
    "create_operator",
    "list_operators",
    "login",
    "logout",
    "operator_named",
    "set_availability",
    "update_operator",
]

_MAX_NAME = 80


def _display_name(name: str) -> str:
    clean = " ".join(name.split())
    if not clean or len(clean) > _MAX_NAME:
        raise ValidationError(field="displayName", reason=f"must be 1-{_MAX_NAME} characters")
    return clean


async def create_operator(
    services: Services,
    *,
    actor_id: str | None,
    username: str,
    display_name: str,
    password: str,
    role: Role = Role.OPERATOR,
    capacity: int = 3,
) -> OperatorView:
    """Create an operator account. ``actor_id`` None means the local CLI (the first admin).

    Raises:
        ValidationError: bad username, name, password or capacity.
        ConflictError: the username is taken.
        PermissionDeniedError: the actor is not an admin.
    """
    username = validate_username(username)
    name = _display_name(display_name)
    password_hash = services.hasher.hash(password)

    async def work(uow: UnitOfWork) -> OperatorView:
        actor = SYSTEM
        if actor_id is not None:
            require_admin(await active_operator(uow, actor_id), "create operators")
            actor = Actor.operator(actor_id)
        now = services.clock.now()
        operator = Operator(
            id=services.ids.new_id(),
            username=username,
            display_name=name,
            password_hash=password_hash,
            role=role,
            capacity=capacity,
            created_at=now,
        )
        await uow.operators.add(operator)
        await write_audit(
            uow, actor, AuditAction.CREATE_OPERATOR, now, operator.id, role=role.value
        )
        return operator.view()

    return await transaction(services, work)


async def login(
    services: Services, *, username: str, password: str, go_online: bool = True
) -> Operator:
    """Check credentials; on success the operator goes ONLINE (by default) and is returned.

    A failed try is audited; the error never says whether the username exists.

    Raises:
        AuthenticationError: unknown user, wrong password or disabled account.
    """
    name = username.strip().lower()

    async def find(uow: UnitOfWork) -> Operator | None:
        try:
            return await uow.operators.get_by_username(name)
        except NotFoundError:
            return None

    async with services.uow() as uow:
        found = await find(uow)
    # Hash even for unknown users so response time does not reveal which usernames exist.
    valid = services.hasher.verify(password, found.password_hash if found else _DUMMY_HASH)
    if found is None or not valid or found.disabled:

        async def failed(uow: UnitOfWork) -> None:
            subject = found.id if found else ""
            await write_audit(uow, SYSTEM, AuditAction.LOGIN_FAILED, services.clock.now(), subject)

        await transaction(services, failed)
        raise AuthenticationError()

    async def work(uow: UnitOfWork) -> Operator:
        operator = await active_operator(uow, found.id)
        now = services.clock.now()
        if go_online:
            operator.availability = Availability.ONLINE
            await uow.operators.update(operator)
        await uow.events.add(
            [
                ev.AnalyticsEvent(
                    payload=ev.OperatorLogin(username=operator.username),
                    at=now,
                    operator_id=operator.id,
                )
            ]
        )
        await write_audit(uow, Actor.operator(operator.id), AuditAction.LOGIN, now, operator.id)
        return operator

    operator = await transaction(services, work)
    await _availability_changed(services, operator)
    return operator


# A valid bcrypt hash of a random string, verified against when the username is unknown.
_DUMMY_HASH = "$2b$12$QfCEc3U2bhZKppPWcK6FZ.W6lc4UgcRAxUaO5IBc9bSHNLOzEGS1K"


async def logout(services: Services, *, operator_id: str) -> None:
    """The operator goes OFFLINE and every token issued to them is revoked.

    Chats they hold stay theirs until handed back, transferred or closed.
    """

    async def work(uow: UnitOfWork) -> Operator:
        operator = await active_operator(uow, operator_id)
        now = services.clock.now()
        operator.availability = Availability.OFFLINE
        operator.token_version += 1
        await uow.operators.update(operator)
        await uow.events.add(
            [
                ev.AnalyticsEvent(
                    payload=ev.OperatorLogout(username=operator.username),
                    at=now,
                    operator_id=operator.id,
                )
            ]
        )
        await write_audit(uow, Actor.operator(operator_id), AuditAction.LOGOUT, now, operator_id)
        return operator

    await _availability_changed(services, await transaction(services, work))


async def set_availability(
    services: Services, *, operator_id: str, availability: Availability
) -> OperatorView:
    """Change the operator's availability; going ONLINE may hand them waiting chats."""

    async def work(uow: UnitOfWork) -> Operator:
        operator = await active_operator(uow, operator_id)
        operator.availability = availability
        await uow.operators.update(operator)
        await write_audit(
            uow,
            Actor.operator(operator_id),
            AuditAction.AVAILABILITY,
            services.clock.now(),
            operator_id,
            availability=availability.value,
        )
        return operator

    operator = await transaction(services, work)
    await _availability_changed(services, operator)
    return operator.view()


async def _availability_changed(services: Services, operator: Operator) -> None:
    await publish_all(
        services,
        [
            RealtimeEvent(
                channel=OPERATORS_CHANNEL, kind="operator", data={"operatorId": operator.id}
            )
        ],
    )
    if services.policies.auto_assign and operator.receives_chats:
        await assign_waiting(services)


async def update_operator(
    services: Services,
    *,
    actor_id: str | None,
    operator_id: str,
    display_name: str | None = None,
    capacity: int | None = None,
    role: Role | None = None,
    disabled: bool | None = None,
    password: str | None = None,
) -> OperatorView:
    """Admins change any account; operators may change their own name and password.

    ``actor_id`` None is the local command line (whoever runs `lucine` on the server),
    which may change any account, as it creates the first admin. Disabling an account or
    changing its password revokes its tokens (token_version).

    Raises:
        PermissionDeniedError: not allowed for this actor.
        ValidationError: bad values, or an admin disabling or demoting themselves.
        NotFoundError: unknown operator.
    """
    password_hash = services.hasher.hash(password) if password is not None else None

    async def work(uow: UnitOfWork) -> OperatorView:
        if actor_id is not None:
            actor = await active_operator(uow, actor_id)
            if (
                actor_id != operator_id
                or capacity is not None
                or role is not None
                or disabled is not None
            ):
                require_admin(actor, "manage operators")
            if actor_id == operator_id and (disabled or role is Role.OPERATOR):
                raise ValidationError(
                    field="operator", reason="an admin cannot disable or demote themselves"
                )
        operator = await uow.operators.get(operator_id)
        changed: dict[str, str] = {}
        if display_name is not None:
            operator.display_name = _display_name(display_name)
            changed["displayName"] = "changed"
        if capacity is not None:
            operator.set_capacity(capacity)
            changed["capacity"] = str(capacity)
        if role is not None:
            operator.role = role
            changed["role"] = role.value
        if disabled is not None and disabled != operator.disabled:
            operator.disabled = disabled
            operator.token_version += 1
            if disabled:
                operator.availability = Availability.OFFLINE
            changed["disabled"] = str(disabled).lower()
        if password_hash is not None:
            operator.password_hash = password_hash
            operator.token_version += 1
            changed["password"] = "changed"  # noqa: S105 - an audit label, not a secret
        await uow.operators.update(operator)
        await write_audit(
            uow,
            SYSTEM if actor_id is None else Actor.operator(actor_id),
            AuditAction.UPDATE_OPERATOR,
            services.clock.now(),
            operator_id,
            **changed,
        )
        loads = await uow.sessions.loads()
        return operator.view(loads.get(operator.id, 0))

    view = await transaction(services, work)
    # Dashboards refresh names and load; a disabled or re-passworded operator's own
    # dashboard then finds its token revoked at once rather than at the next keep-alive.
    await publish_all(
        services,
        [RealtimeEvent(channel=OPERATORS_CHANNEL, kind="operator", data={"operatorId": view.id})],
    )
    return view


async def authenticate(services: Services, token: str) -> Operator:
    """The operator a token belongs to, if the token is valid and not revoked.

    Raises:
        AuthenticationError: bad, expired or revoked token, or a disabled operator.
    """
    claims = services.tokens.verify(token, services.clock.now())
    async with services.uow(read_only=True) as uow:
        operator = await active_operator(uow, claims.operator_id)
    if operator.token_version != claims.token_version:
        raise AuthenticationError()
    return operator


async def operator_named(services: Services, username: str) -> OperatorView:
    """The operator with that username, with their load.

    Raises:
        ValidationError: not a possible username.
        NotFoundError: no operator has it.
    """
    async with services.uow(read_only=True) as uow:
        operator = await uow.operators.get_by_username(validate_username(username))
        loads = await uow.sessions.loads()
    return operator.view(loads.get(operator.id, 0))


async def list_operators(services: Services) -> Sequence[OperatorView]:
    """Every operator with the number of chats they hold."""
    async with services.uow() as uow:
        loads = await uow.sessions.loads()
        return [o.view(loads.get(o.id, 0)) for o in await uow.operators.list()]
