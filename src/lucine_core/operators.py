"""Operators: the people who take over chats from the assistant."""

from __future__ import annotations

import re
from datetime import datetime

import attrs

from lucine_core.enums import Availability, Role
from lucine_core.errors import ValidationError

__all__ = ["MAX_CAPACITY", "Operator", "OperatorView", "validate_username"]

MAX_CAPACITY = 50
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,39}")


def validate_username(username: str) -> str:
    """Return the normalised (lower-case) username.

    Raises:
        ValidationError: not 2-40 characters of a-z, 0-9, dot, dash, underscore.
    """
    normalised = username.strip().lower()
    if not _USERNAME.fullmatch(normalised):
        raise ValidationError(
            field="username", reason="2-40 characters: letters, digits, '.', '-' or '_'"
        )
    return normalised


@attrs.define(kw_only=True)
class Operator:
    """A person who answers chats.

    Attributes:
        id: Unique id.
        username: Login name, unique, lower-case.
        display_name: The name visitors see.
        password_hash: The PasswordHasher's output; never leaves the server.
        role: operator or admin.
        availability: Only ONLINE operators receive chats.
        capacity: How many chats they hold at once at most.
        disabled: A disabled operator can neither log in nor receive chats.
        created_at: When the account was made.
        last_assigned_at: When they last received a chat (round-robin order).
        token_version: Bumped to revoke every token issued before.
    """

    id: str
    username: str
    display_name: str
    password_hash: str
    role: Role = Role.OPERATOR
    availability: Availability = Availability.OFFLINE
    capacity: int = 3
    disabled: bool = False
    created_at: datetime
    last_assigned_at: datetime | None = None
    token_version: int = 0

    def __attrs_post_init__(self) -> None:
        self.set_capacity(self.capacity)

    @property
    def is_admin(self) -> bool:
        """True for admins."""
        return self.role is Role.ADMIN

    @property
    def receives_chats(self) -> bool:
        """True when automatic assignment may give this operator a chat."""
        return self.availability is Availability.ONLINE and not self.disabled

    def set_capacity(self, capacity: int) -> None:
        """Change how many chats the operator may hold at once.

        Raises:
            ValidationError: outside 1..MAX_CAPACITY.
        """
        if not 1 <= capacity <= MAX_CAPACITY:
            raise ValidationError(field="capacity", reason=f"must be between 1 and {MAX_CAPACITY}")
        self.capacity = capacity

    def view(self, load: int = 0) -> OperatorView:
        """What other operators and dashboards may see of this operator."""
        return OperatorView(
            id=self.id,
            username=self.username,
            display_name=self.display_name,
            role=self.role,
            availability=self.availability,
            capacity=self.capacity,
            disabled=self.disabled,
            load=load,
        )


@attrs.frozen(kw_only=True)
class OperatorView:
    """An operator without secrets, with the number of chats they hold now."""

    id: str
    username: str
    display_name: str
    role: Role
    availability: Availability
    capacity: int
    disabled: bool
    load: int
