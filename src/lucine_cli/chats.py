"""`lucine chats`: list and read chats, and take, answer and close them as an operator.

Listing and reading act as the machine's administrator (a read of a history is audited as
``system``); taking, answering and closing act as the operator named by ``--as``, under
the same rules as the dashboard.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Annotated, Any, TypeVar

import typer

from lucine_adapters.settings import Settings
from lucine_cli.common import database_services, fail, load_settings, run
from lucine_cli.display import check_limit, choice, echo_json, iso, local, local_zone, usernames
from lucine_core.enums import SessionStatus
from lucine_core.operators import OperatorView
from lucine_core.services import Services
from lucine_core.services.conversation import close_chat, history, operator_message
from lucine_core.services.dashboard import list_chats
from lucine_core.services.handoff import take_chat
from lucine_core.services.operators import operator_named
from lucine_core.services.views import ChatSummary, History

__all__ = ["chats_app"]

T = TypeVar("T")

chats_app = typer.Typer(
    name="chats",
    help="Chats: list and read them; take, answer and close them as an operator.",
    no_args_is_help=True,
)

_CLOSING = (SessionStatus.RESOLVED, SessionStatus.NOT_RESOLVED, SessionStatus.CANCELLED)
_MAX_LIMIT = 1000

_SESSION = typer.Argument(
    help="The chat's session id (after `--` if it starts with a dash).", show_default=False
)
_JSON = typer.Option("--json", help="Print JSON instead of a table.")
_AS = typer.Option(
    "--as", envvar="LUCINE_OPERATOR", help="Act as this operator (username).", show_default=False
)


def _work(settings: Settings, work: Callable[[Services], Awaitable[T]]) -> T:
    """Run ``work`` on the configured database (a missing chat or operator is named)."""

    async def go() -> T:
        async with database_services(settings, writes=False) as services:
            return await work(services)

    return run(go())


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return ""
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"


@chats_app.command("list")
def list_(
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status",
            help="Only chats in this state (repeat for more; default: the open ones).",
            show_default=False,
        ),
    ] = None,
    operator: Annotated[
        str | None, typer.Option("--operator", help="Only the chats this operator holds now.")
    ] = None,
    limit: Annotated[int, typer.Option(help=f"At most this many (1-{_MAX_LIMIT}).")] = 50,
    as_json: Annotated[bool, _JSON] = False,
) -> None:
    """Chats, newest activity first: state, holder, waiting time, language, dates, last question."""
    statuses = [choice(SessionStatus, s, "--status") for s in status] if status else None
    check_limit(limit, _MAX_LIMIT)
    settings = load_settings()
    zone = local_zone(settings)

    async def read(services: Services) -> tuple[Sequence[ChatSummary], dict[str, str]]:
        holder = None if operator is None else (await operator_named(services, operator)).id
        chats = await list_chats(services, statuses=statuses, operator_id=holder, limit=limit)
        return chats, await usernames(services)

    chats, names = _work(settings, read)
    if as_json:
        echo_json([_summary_json(c, names, zone) for c in chats])
        return
    # Imported here: rich draws the table, and only the listings need it.
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415
    from rich.text import Text  # noqa: PLC0415

    table = Table()
    # An id cut short is no use: in a narrow terminal the other columns give way.
    table.add_column("session", no_wrap=True)
    for column in ("status", "operator", "waiting", "lang", "created", "active"):
        table.add_column(column)
    table.add_column("last visitor message", no_wrap=True, overflow="ellipsis", max_width=30)
    for c in chats:
        table.add_row(
            c.session_id,
            c.status.value,
            names.get(c.operator_id or "", ""),
            _duration(c.waited_seconds),
            c.language.value,
            local(c.created_at, zone, "%m-%d %H:%M"),
            local(c.last_activity_at, zone, "%m-%d %H:%M"),
            Text(c.last_visitor_message or ""),
        )
    Console().print(table)


def _summary_json(chat: ChatSummary, names: Mapping[str, str], zone: tzinfo) -> dict[str, Any]:
    return {
        "session_id": chat.session_id,
        "status": chat.status.value,
        "operator": names.get(chat.operator_id) if chat.operator_id else None,
        "language": chat.language.value,
        "created_at": iso(chat.created_at, zone),
        "last_activity_at": iso(chat.last_activity_at, zone),
        "message_count": chat.message_count,
        "last_visitor_message": chat.last_visitor_message,
        "queue_position": chat.queue.position if chat.queue else None,
        "requested_at": iso(chat.requested_at, zone),
        "waited_seconds": chat.waited_seconds,
        "sla": chat.sla.state.value if chat.sla else None,
    }


@chats_app.command("show")
def show(session: Annotated[str, _SESSION], as_json: Annotated[bool, _JSON] = False) -> None:
    """A chat's whole history: messages, internal notes and state changes (audited)."""

    async def read(services: Services) -> tuple[History, dict[str, str]]:
        found = await history(services, operator_id=None, session_id=session)
        return found, await usernames(services)

    settings = load_settings()
    zone = local_zone(settings)  # before the read: a bad zone must not leave it audited
    found, names = _work(settings, read)
    plain = _history_json(found, names, zone)
    if as_json:
        echo_json(plain)
        return
    _print_history(plain)


def _actor(actor: str, names: Mapping[str, str]) -> str:
    """``operator:<id>`` as ``operator:<username>``; visitor, system and the like unchanged."""
    kind, _, key = actor.partition(":")
    return f"{kind}:{names.get(key, key)}" if key else actor


def _history_json(found: History, names: Mapping[str, str], zone: tzinfo) -> dict[str, Any]:
    session = found.session
    return {
        "session_id": session.id,
        "status": session.status.value,
        "language": session.language.value,
        "operator": names.get(session.operator_id) if session.operator_id else None,
        "created_at": iso(session.created_at, zone),
        "last_activity_at": iso(session.last_activity_at, zone),
        "rating": session.rating,
        "messages": [
            {
                "seq": m.seq,
                "at": iso(m.at, zone),
                "sender": m.sender.value,
                "operator": names.get(m.operator_id) if m.operator_id else None,
                "text": m.text,
            }
            for m in found.messages
        ],
        "notes": [
            {"at": iso(n.at, zone), "operator": names.get(n.operator_id), "text": n.text}
            for n in found.notes
        ],
        "changes": [
            {
                "at": iso(c.at, zone),
                "from": c.from_status.value,
                "to": c.to_status.value,
                "actor": _actor(c.actor, names),
                "reason": c.reason,
            }
            for c in found.changes
        ],
    }


def _print_history(plain: Mapping[str, Any]) -> None:
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415
    from rich.text import Text  # noqa: PLC0415

    def when(text: str) -> str:
        return datetime.fromisoformat(text).strftime("%Y-%m-%d %H:%M:%S")

    console = Console()
    rating = f" · rated {plain['rating']}/5" if plain["rating"] else ""
    holder = f" · operator {plain['operator']}" if plain["operator"] else ""
    console.print(
        Text(
            f"chat {plain['session_id']} · {plain['status']}{holder} · {plain['language']} · "
            f"started {when(plain['created_at'])} · last activity "
            f"{when(plain['last_activity_at'])}{rating}"
        )
    )
    messages = Table("#", "time", "sender", "operator", "text", title="messages")
    for m in plain["messages"]:
        messages.add_row(
            str(m["seq"]), when(m["at"]), m["sender"], m["operator"] or "", Text(m["text"])
        )
    console.print(messages)
    if plain["notes"]:
        notes = Table("time", "operator", "note", title="internal notes")
        for n in plain["notes"]:
            notes.add_row(when(n["at"]), n["operator"] or "", Text(n["text"]))
        console.print(notes)
    changes = Table("time", "from", "to", "by", "reason", title="state changes")
    for c in plain["changes"]:
        changes.add_row(when(c["at"]), c["from"], c["to"], c["actor"], Text(c["reason"]))
    console.print(changes)


def _as_operator(
    username: str | None, work: Callable[[Services, OperatorView], Awaitable[object]]
) -> str:
    """Run ``work`` as the enabled operator with that username; returns their username."""
    if not username:
        fail("--as USERNAME (or LUCINE_OPERATOR) is required: the operator acting")
    name = username

    async def acting(services: Services) -> str:
        operator = await operator_named(services, name)
        if operator.disabled:
            fail(f"operator {operator.username!r} is disabled")
        await work(services, operator)
        return operator.username

    return _work(load_settings(), acting)


@chats_app.command("take")
def take(session: Annotated[str, _SESSION], as_: Annotated[str | None, _AS] = None) -> None:
    """Take a chat from the queue or the assistant (nobody else may hold it)."""
    who = _as_operator(
        as_,
        lambda services, operator: take_chat(services, operator_id=operator.id, session_id=session),
    )
    typer.echo(f"{who} took chat {session}")


@chats_app.command("reply")
def reply(
    session: Annotated[str, _SESSION],
    text: Annotated[str, typer.Argument(help="What to write to the visitor.")],
    as_: Annotated[str | None, _AS] = None,
) -> None:
    """Write to the visitor of a chat you hold."""
    who = _as_operator(
        as_,
        lambda services, operator: operator_message(
            services, operator_id=operator.id, session_id=session, text=text
        ),
    )
    typer.echo(f"{who} wrote to the visitor of chat {session}")


@chats_app.command("close")
def close(
    session: Annotated[str, _SESSION],
    as_: Annotated[str | None, _AS] = None,
    status: Annotated[str, typer.Option(help="resolved, not_resolved or cancelled.")] = "resolved",
    note: Annotated[str | None, typer.Option(help="An internal note to leave on the chat.")] = None,
) -> None:
    """Close a chat you hold (an admin may close anyone's); the visitor is asked for a rating."""
    closing = choice(SessionStatus, status, "--status", _CLOSING)
    who = _as_operator(
        as_,
        lambda services, operator: close_chat(
            services, actor_id=operator.id, session_id=session, status=closing, note=note
        ),
    )
    typer.echo(f"{who} closed chat {session} as {closing.value}")
