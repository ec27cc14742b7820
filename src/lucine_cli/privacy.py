"""`lucine gdpr` (a visitor's data: export, erase, the retention purge) and `lucine audit`.

The command line acts as the machine's administrator: every export, erasure, purge and
reading of the trail is itself written to the audit trail, as ``system``.
"""

from __future__ import annotations

from datetime import tzinfo
from pathlib import Path
from typing import Annotated, Any

import typer

from lucine_cli.common import confirm, database_services, fail, load_settings, run
from lucine_cli.display import (
    check_limit,
    echo_json,
    iso,
    json_text,
    local_zone,
    short,
    since_option,
    usernames,
)
from lucine_core.actors import SYSTEM, Actor
from lucine_core.audit import AuditEntry
from lucine_core.services import RetentionPolicy, Services
from lucine_core.services.operators import operator_named
from lucine_core.services.privacy import (
    PurgeReport,
    audit_trail,
    erase_contact,
    erase_session,
    export_contact,
    export_session,
    purge_expired,
)

__all__ = ["audit", "gdpr_app"]

_PURGE_BATCH = 1000
_AUDIT_PAGE = 1000  # the same page bound as the HTTP API

gdpr_app = typer.Typer(
    name="gdpr",
    help="A visitor's data: export it, erase it, apply the retention now.",
    no_args_is_help=True,
)

SessionOption = Annotated[
    str | None, typer.Option("--session", help="The chat's session id.", show_default=False)
]
EmailOption = Annotated[
    str | None,
    typer.Option(
        "--email", help="A contact's e-mail: their tickets and chats.", show_default=False
    ),
]


def _one_target(session: str | None, email: str | None) -> None:
    if (session is None) == (email is None):
        fail("give exactly one of --session or --email")


@gdpr_app.command("export")
def export(
    session: SessionOption = None,
    email: EmailOption = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", help="Write the JSON to this file instead of printing it."),
    ] = None,
) -> None:
    """Everything stored about one chat or one contact, as JSON (the export is audited)."""
    _one_target(session, email)
    if output is not None and (output.is_dir() or not output.parent.is_dir()):
        fail(f"--output: {output} is a directory or in no existing directory")
    settings = load_settings()

    async def read() -> dict[str, Any]:
        async with database_services(settings, writes=False) as services:
            if session is not None:
                return await export_session(services, actor_id=None, session_id=session)
            assert email is not None  # noqa: S101 - _one_target made sure of it
            return await export_contact(services, actor_id=None, email=email)

    text = json_text(run(read()))
    if output is None:
        typer.echo(text)
        return
    try:
        output.write_text(text + "\n", encoding="utf-8")
    except OSError as error:
        fail(f"--output: {output}: {error.strerror}")
    typer.echo(f"exported {_what(session, email)} to {output}")


def _what(session: str | None, email: str | None) -> str:
    return f"session {session}" if session is not None else f"everything about {email}"


@gdpr_app.command("erase")
def erase(
    session: SessionOption = None,
    email: EmailOption = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask first.")] = False,
) -> None:
    """Delete a chat, or a contact's tickets and chats, for good (the trail keeps that it was)."""
    _one_target(session, email)
    what = _what(session, email)
    confirm(f"Erase {what}? It cannot be undone", yes=yes, declined="not erased")
    settings = load_settings()

    async def work() -> int:
        async with database_services(settings, writes=False) as services:
            if session is not None:
                return await erase_session(services, actor_id=None, session_id=session)
            assert email is not None  # noqa: S101 - _one_target made sure of it
            return await erase_contact(services, actor_id=None, email=email)

    removed = run(work())
    typer.echo(f"erased {what}: {removed} records (chats, messages, notes, tickets, events)")


@gdpr_app.command("purge")
def purge() -> None:
    """Delete now the chats, analytics and audit lines older than the retention allows."""
    settings = load_settings()

    async def work() -> tuple[PurgeReport, RetentionPolicy]:
        async with database_services(settings, writes=False) as services:
            total = PurgeReport(sessions=0, events=0, audit=0)
            while True:
                # The purge goes by batches of sessions: repeat until the last is short.
                report = await purge_expired(services, batch=_PURGE_BATCH)
                total = PurgeReport(
                    sessions=total.sessions + report.sessions,
                    events=total.events + report.events,
                    audit=total.audit + report.audit,
                )
                if report.sessions < _PURGE_BATCH:
                    return total, services.policies.retention

    total, kept = run(work())
    typer.echo(
        f"purged {total.sessions} chats older than {kept.chats.days} days, "
        f"{total.events} analytics events older than {kept.analytics.days} days, "
        f"{total.audit} audit lines older than {kept.audit.days} days"
    )


async def _actor(services: Services, value: str) -> str:
    """``system`` and ``operator:<id>`` as they are; anything else is a username."""
    if value == str(SYSTEM) or ":" in value:
        return value
    return str(Actor.operator((await operator_named(services, value)).id))


def audit(
    since: Annotated[
        str | None,
        typer.Option(
            help="From this day (YYYY-MM-DD, local) or time (ISO 8601).", show_default=False
        ),
    ] = None,
    actor: Annotated[
        str | None,
        typer.Option(
            help="Only this actor: system, operator:<id> or a username.", show_default=False
        ),
    ] = None,
    subject: Annotated[
        str | None,
        typer.Option(
            help="Only lines about this session, ticket or operator id.", show_default=False
        ),
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many lines (1-1000).")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array.")] = False,
) -> None:
    """The audit trail, newest first: who did what to which thing (reading it is audited)."""
    check_limit(limit, _AUDIT_PAGE)
    settings = load_settings()
    zone = local_zone(settings)
    start = since_option(since, zone)

    async def read() -> tuple[list[AuditEntry], dict[str, str]]:
        async with database_services(settings, writes=False) as services:
            who = await _actor(services, actor) if actor is not None else None
            entries = await audit_trail(
                services, actor_id=None, since=start, actor=who, subject=subject, limit=limit
            )
            return list(entries), await usernames(services)

    entries, names = run(read())
    if as_json:
        echo_json([_plain(e, zone) for e in entries])
        return
    # Imported here: rich draws the table, and only the listings need it.
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415
    from rich.text import Text  # noqa: PLC0415

    table = Table()
    for name in ("at", "actor", "action", "subject", "details"):
        table.add_column(name, overflow="fold")  # ids whole, to be copied
    for e in entries:
        operator = e.actor.removeprefix("operator:")
        table.add_row(
            short(e.at, zone),
            names.get(operator, e.actor),
            e.action.value,
            Text(e.subject),
            Text(" ".join(f"{k}={v}" for k, v in sorted(e.details.items()))),
        )
    Console().print(table)


def _plain(entry: AuditEntry, zone: tzinfo) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": iso(entry.at, zone),
        "actor": entry.actor,
        "action": entry.action.value,
        "subject": entry.subject,
        "details": dict(entry.details),
    }
