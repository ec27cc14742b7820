"""`lucine demo`: a fresh database made ready to try, with the sample FAQ and three accounts."""

from __future__ import annotations

import json
import secrets
from typing import Annotated

import typer

from lucine_adapters.kb import sample_kb
from lucine_cli.common import database_services, fail, load_settings, run
from lucine_core.enums import Role
from lucine_core.services import Services
from lucine_core.services.operators import create_operator

__all__ = ["DEMO_ACCOUNTS", "demo"]

# username, the name visitors see, role
DEMO_ACCOUNTS = (
    ("admin", "Amministratore", Role.ADMIN),
    ("giulia", "Giulia", Role.OPERATOR),
    ("marco", "Marco", Role.OPERATOR),
)


def _one_time_password() -> str:
    # 16 random bytes, URL-safe: typed once from the terminal, then changed.
    return secrets.token_urlsafe(16)


async def _fill(services: Services) -> tuple[int, list[tuple[str, str, str]]]:
    async with services.uow(read_only=True) as uow:
        operators = len(await uow.operators.list())
        sessions = sum((await uow.sessions.count_by_status()).values())
    if operators or sessions:
        fail(
            f"the database already has {operators} accounts and {sessions} chats; "
            "demo needs a fresh one (a new LUCINE_DATA_DIR or an empty DATABASE_URL)"
        )
    items = sample_kb()
    await services.kb.replace_all(items)
    made = []
    for username, name, role in DEMO_ACCOUNTS:
        password = _one_time_password()
        await create_operator(
            services,
            actor_id=None,
            username=username,
            display_name=name,
            password=password,
            role=role,
            capacity=3,
        )
        made.append((username, role.value, password))
    return len(items), made


def demo(
    as_json: Annotated[bool, typer.Option("--json", help="Print the accounts as JSON.")] = False,
) -> None:
    """Fill a fresh database with the sample FAQ and an admin and two operators.

    Each account gets a random password, printed here once and stored only as a hash:
    sign in with it, then change it (`lucine operator reset-password`).
    """
    settings = load_settings()

    async def go() -> tuple[int, list[tuple[str, str, str]]]:
        async with database_services(settings) as services:
            return await _fill(services)

    items, made = run(go())
    if as_json:
        accounts = [{"username": u, "role": r, "password": p} for u, r, p in made]
        typer.echo(json.dumps({"kbItems": items, "accounts": accounts}, indent=2))
        return
    typer.echo(f"sample knowledge base: {items} items")
    typer.echo("accounts (the passwords are shown only now):")
    for username, role, password in made:
        typer.echo(f"  {username:<8} {role:<9} {password}")
    typer.echo("next: lucine serve, then sign in at /dashboard")
