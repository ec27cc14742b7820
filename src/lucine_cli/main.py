"""The `lucine` command: try the assistant from a terminal before any server exists."""

from __future__ import annotations

import asyncio
import json
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Annotated, Any

import attrs
import typer

from lucine_adapters.bootstrap import bootstrap
from lucine_adapters.settings import Settings
from lucine_adapters.sql import migrate
from lucine_adapters.sql import seed as seeding
from lucine_adapters.sql.database import SqlDatabase, make_engine
from lucine_cli.chats import chats_app
from lucine_cli.common import confirm, fail, failed, load_settings, run
from lucine_cli.demo import demo
from lucine_cli.kb import kb_app
from lucine_cli.operators import operator_app
from lucine_cli.privacy import audit, gdpr_app
from lucine_cli.reports import events, stats
from lucine_cli.server import serve
from lucine_cli.tickets import tickets_app
from lucine_cli.worker import worker
from lucine_core.errors import LucineError
from lucine_core.services import Services
from lucine_core.services.chat import smart_action, visitor_message
from lucine_core.services.views import ChatReply, EscalationOutcome

__all__ = ["app", "main"]


app = typer.Typer(
    name="lucine",
    help="Lucine: AI-first customer-support chat. Italian first, English and German too.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"lucine {version('lucine')}")
        raise typer.Exit


@app.callback()
def _main(
    _version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Lucine: AI-first customer-support chat. Italian first, English and German too."""


KbOption = Annotated[
    Path | None,
    typer.Option("--kb", help="Knowledge base (JSON or CSV) to answer from instead of the sample."),
]


def _services(kb: Path | None) -> Services:
    try:
        settings = Settings.from_env()
        if kb is not None:
            settings = attrs.evolve(settings, kb_path=kb)
        return bootstrap(settings, in_memory=True)
    except LucineError as error:
        failed(error)
    except OSError as error:
        fail(f"{error.filename}: {error.strerror}")


def reply_json(reply: ChatReply) -> dict[str, Any]:
    """The `ask --json` shape (the same fields as the HTTP API's chat reply)."""
    return {
        "reply": reply.reply.text if reply.reply else None,
        "sources": list(reply.sources),
        "smartActions": [{"text": a.text, "action": a.action} for a in reply.smart_actions],
        "confidence": reply.confidence,
        "language": reply.language.value,
    }


@app.command()
def ask(
    question: Annotated[
        str | None, typer.Argument(help="The question; omit to read one per line from stdin.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
    kb: KbOption = None,
) -> None:
    """Answer one question (or one per line of stdin) from the knowledge base."""
    services = _services(kb)
    questions = (
        [question]
        if question is not None
        else [line for line in sys.stdin.read().splitlines() if line.strip()]
    )
    if not questions:
        fail("no question given (pass one as an argument or on stdin)")
    for text in questions:
        reply = run(visitor_message(services, text=text, session_id=None))
        if as_json:
            typer.echo(json.dumps(reply_json(reply), ensure_ascii=False))
            continue
        typer.echo(reply.reply.text if reply.reply else "")
        if reply.sources:
            typer.echo(f"  [fonte: {', '.join(reply.sources)} · confidenza {reply.confidence:.2f}]")
        for index, action in enumerate(reply.smart_actions, 1):
            typer.echo(f"  [{index}] {action.text}")


@app.command()
def chat(kb: KbOption = None) -> None:
    """Talk to the assistant in the terminal (type /esci or Ctrl-D to leave)."""
    services = _services(kb)
    typer.echo("Lucine · scrivi una domanda (in italiano, English o Deutsch). /esci per uscire.")
    session_id: str | None = None
    actions: list[str] = []
    while True:
        try:
            line = input("tu > ").strip()
        except (EOFError, KeyboardInterrupt):
            typer.echo("")
            return
        if line in {"/esci", "/quit", "/exit"}:
            return
        if not line:
            continue
        if line.isdigit() and session_id and 1 <= int(line) <= len(actions):
            action = actions[int(line) - 1]
            result = run(smart_action(services, session_id=session_id, action=action))
            actions = _show(result)
            continue
        try:
            reply = asyncio.run(visitor_message(services, text=line, session_id=session_id))
        except LucineError as error:
            typer.echo(f"! {error.message}")
            continue
        session_id = reply.session_id
        actions = _show(reply)


def _show(result: ChatReply | EscalationOutcome) -> list[str]:
    if isinstance(result, EscalationOutcome):
        if result.message is not None:
            typer.echo(f"lucine > {result.message.text}")
        if result.queue is not None:
            queue = result.queue
            typer.echo(
                f"  (in coda: posizione {queue.position}, "
                f"attesa stimata {queue.estimated_wait_seconds} s)"
            )
        return []
    if result.reply is not None:
        typer.echo(f"lucine > {result.reply.text}")
    if result.sources:
        typer.echo(f"  [fonte: {', '.join(result.sources)}]")
    for index, action in enumerate(result.smart_actions, 1):
        typer.echo(f"  [{index}] {action.text}")
    return [a.action for a in result.smart_actions]


db_app = typer.Typer(
    name="db",
    help="The database's schema: DATABASE_URL, else the SQLite file in LUCINE_DATA_DIR.",
    no_args_is_help=True,
)
app.add_typer(db_app)


def _database_url() -> str:
    return load_settings().resolved_database_url


def _revision_line(url: str, revision: str | None) -> str:
    where = f"database at {migrate.public_url(url)}"
    if revision is None:
        return f"{where} is empty (no schema yet)"
    newest = migrate.head()
    if revision == newest:
        return f"{where} is at revision {revision} (head)"
    if migrate.is_known(revision):
        return f"{where} is at revision {revision} (behind head {newest}: lucine db upgrade)"
    return f"{where} is at revision {revision} (unknown here: newer than head {newest}?)"


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or update the schema to this version's head (safe to run on every start)."""
    url = _database_url()
    run(migrate.upgrade(url))
    typer.echo(_revision_line(url, run(migrate.current(url))))


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[
        str,
        typer.Argument(help="Where to go: previous (one step back), a revision id, or base."),
    ],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask first.")] = False,
) -> None:
    """Take the schema back to an earlier revision, before running an older Lucine.

    What the later revisions added is dropped with its data: back up first.
    """
    url = _database_url()
    now = run(migrate.current(url))
    if now is None:
        fail(f"{_revision_line(url, now)}: nothing to downgrade")
    confirm(
        f"Downgrade the database at {migrate.public_url(url)} from revision {now} to "
        f"{revision}? What later revisions added is dropped with its data",
        yes=yes,
        declined="not downgraded",
    )
    run(migrate.downgrade(url, "-1" if revision == "previous" else revision))
    typer.echo(_revision_line(url, run(migrate.current(url))))


@db_app.command("current")
def db_current() -> None:
    """Print the database's schema revision and whether it is up to date."""
    url = _database_url()
    typer.echo(_revision_line(url, run(migrate.current(url))))


dev_app = typer.Typer(
    name="dev",
    help="Developer tools: a big, realistic database for trying Lucine at scale.",
    no_args_is_help=True,
)
app.add_typer(dev_app)


@dev_app.command("seed")
def dev_seed(
    sessions: Annotated[int, typer.Option(min=1, help="Sessions to add.")],
    messages_per_session: Annotated[int, typer.Option(min=2, help="Messages per session.")] = 10,
    events_per_session: Annotated[int, typer.Option(min=1, help="Events per session.")] = 10,
    random_seed: Annotated[
        int | None,
        typer.Option("--seed", help="Random seed (default: how many sessions there are)."),
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", help="Add to a database that already has sessions.")
    ] = False,
) -> None:
    """Fill the configured database with 60 days of chats in every state, fast."""
    report = run(
        _seed_database(
            load_settings(),
            sessions=sessions,
            messages=messages_per_session,
            events=events_per_session,
            random_seed=random_seed,
            yes=yes,
        )
    )
    for table, count in sorted(report.rows.items()):
        typer.echo(f"{table:<16}{count:>12,}")
    states = ", ".join(f"{s} {n:,}" for s, n in sorted(report.statuses.items()))
    typer.echo(f"sessions by state: {states}")
    typer.echo(f"seeded {sessions:,} sessions in {report.seconds:.1f} s")


async def _seed_database(
    settings: Settings,
    *,
    sessions: int,
    messages: int,
    events: int,
    random_seed: int | None,
    yes: bool,
) -> seeding.SeedReport:
    # Imported here: rich draws the bar, and only this developer command needs it.
    from rich.console import Console  # noqa: PLC0415
    from rich.progress import Progress  # noqa: PLC0415

    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = SqlDatabase(make_engine(url, pool_size=1))
    try:
        await database.ping()
        existing = await seeding.count_sessions(database)
        if existing is None:
            await migrate.upgrade(url)
        elif existing and not yes:
            fail(f"the database already has {existing:,} sessions; pass --yes to add more")
        with Progress(console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task("seeding", total=sessions)
            return await seeding.seed(
                database,
                sessions=sessions,
                messages_per_session=messages,
                events_per_session=events,
                progress=lambda done: bar.update(task, completed=done),
                seed=(existing or 0) if random_seed is None else random_seed,
                timezone=settings.timezone,
            )
    finally:
        await database.dispose()


app.command()(serve)
app.command()(worker)
app.command()(demo)
app.add_typer(operator_app)
app.add_typer(kb_app)
app.add_typer(chats_app)
app.add_typer(tickets_app)
app.add_typer(gdpr_app)
app.command("audit")(audit)
app.command("stats")(stats)
app.command("events")(events)


def main() -> None:
    """Console-script entry point."""
    app()
