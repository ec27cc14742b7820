"""`lucine operator`: the accounts of the people who answer chats, from the server's shell.

The command line acts as the machine's administrator (audited as ``system``): it creates
the first admin, and may disable, re-enable, re-password or re-role any account.
"""

from __future__ import annotations

import getpass
import json
import sys
from typing import Annotated, Any

import attrs
import typer

from lucine_adapters.settings import Settings
from lucine_cli.common import database_services, fail, load_settings, run
from lucine_core.enums import Role
from lucine_core.operators import OperatorView
from lucine_core.services.operators import (
    create_operator,
    list_operators,
    operator_named,
    update_operator,
)

__all__ = ["ask_password", "create_account", "operator_app"]

operator_app = typer.Typer(name="operator", help="Operator accounts.", no_args_is_help=True)


async def create_account(
    settings: Settings,
    username: str,
    password: str,
    *,
    admin: bool,
    display_name: str | None = None,
    capacity: int = 3,
) -> str:
    """Create an account on the configured database; returns its username."""
    async with database_services(settings) as services:
        view = await create_operator(
            services,
            actor_id=None,
            username=username,
            display_name=display_name or username,
            password=password,
            role=Role.ADMIN if admin else Role.OPERATOR,
            capacity=capacity,
        )
        return view.username


def ask_password() -> str | None:
    """The password typed twice at the terminal, or None when the two differ."""
    first = getpass.getpass("Password (at least 10 characters): ")
    return first if getpass.getpass("Again: ") == first else None


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    password = ask_password()
    if password is None:
        fail("the passwords differ")
    return password


@operator_app.command("create")
def create(
    username: Annotated[str, typer.Option(help="Login name (a-z, 0-9, . _ -).")],
    display_name: Annotated[
        str | None, typer.Option(help="The name visitors see (default: the username).")
    ] = None,
    admin: Annotated[bool, typer.Option("--admin", help="May manage operators.")] = False,
    capacity: Annotated[int, typer.Option(help="Chats held at once at most.")] = 3,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Create an operator account (the first admin comes from here; there is no default)."""
    settings = load_settings()
    password = _read_password(password_stdin)
    created = run(
        create_account(
            settings, username, password, admin=admin, display_name=display_name, capacity=capacity
        )
    )
    typer.echo(f"created {'admin' if admin else 'operator'} {created}")


@operator_app.command("list")
def list_accounts(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array.")] = False,
) -> None:
    """Every account: role, capacity, availability, chats held now, disabled."""
    settings = load_settings()

    async def read() -> list[OperatorView]:
        async with database_services(settings, writes=False) as services:
            return list(await list_operators(services))

    views = run(read())
    if as_json:
        typer.echo(json.dumps([_plain(v) for v in views], ensure_ascii=False, indent=2))
        return
    # Imported here: rich draws the table, and only this command needs it.
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    table = Table("username", "name", "role", "capacity", "holds", "availability", "disabled")
    for v in views:
        table.add_row(
            v.username,
            v.display_name,
            v.role.value,
            str(v.capacity),
            str(v.load),
            v.availability.value,
            "yes" if v.disabled else "",
        )
    Console().print(table)


def _plain(view: OperatorView) -> dict[str, Any]:
    fields = attrs.asdict(view)
    fields["role"], fields["availability"] = view.role.value, view.availability.value
    return fields


def _update(username: str, done: str, **changes: Any) -> None:
    settings = load_settings()

    async def change() -> OperatorView:
        async with database_services(settings, writes=False) as services:
            found = await operator_named(services, username)
            return await update_operator(services, actor_id=None, operator_id=found.id, **changes)

    view = run(change())
    typer.echo(f"{done} {view.username}")


_USERNAME = typer.Argument(help="The account's username.")


@operator_app.command("disable")
def disable(username: Annotated[str, _USERNAME]) -> None:
    """Disable an account: it is logged out everywhere and can no longer log in."""
    _update(username, "disabled", disabled=True)


@operator_app.command("enable")
def enable(username: Annotated[str, _USERNAME]) -> None:
    """Enable a disabled account again."""
    _update(username, "enabled", disabled=False)


@operator_app.command("reset-password")
def reset_password(
    username: Annotated[str, _USERNAME],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Set a new password (asked twice, or read from stdin); logs the account out."""
    password = _read_password(password_stdin)
    _update(username, "new password for", password=password)


@operator_app.command("set-capacity")
def set_capacity(
    username: Annotated[str, _USERNAME],
    capacity: Annotated[int, typer.Argument(help="Chats held at once at most.")],
) -> None:
    """How many chats the account may hold at once."""
    _update(username, f"capacity {capacity} for", capacity=capacity)


@operator_app.command("set-role")
def set_role(
    username: Annotated[str, _USERNAME],
    role: Annotated[Role, typer.Argument(help="admin or operator.")],
) -> None:
    """Make the account an admin or an operator."""
    _update(username, f"role {role.value} for", role=role)
