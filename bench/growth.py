"""Do the hot queries stay fast when the database is big? Seed it, then time them.

    .venv/bin/python bench/growth.py --sessions 100000     (--only sqlite|postgres)

For SQLite (a temporary file) and Postgres (a throwaway database created and dropped
here on 127.0.0.1:5432 as user postgres, or on LUCINE_BENCH_DATABASE_URL's server), this
creates the schema with the migrations, seeds ``--sessions`` sessions (10 messages and 10
events each, and two audit lines), and times the real use cases over ``Services``, p50
and p99: a visitor's poll (an assistant chat and a queued one), the operators' waiting
list and active list, an operator reading a chat's history, today's stats, the 14-day
chart and the admin's audit page. Then it EXPLAINs every SELECT each use case ran
(captured from the driver, so it is the SQL the app sends) and says whether an index
served it. Postgres is VACUUMed and ANALYZEd after seeding, as autovacuum does (since
Postgres 13 it vacuums tables that only grow, too); SQLite is not (the app never runs
ANALYZE). A benchmark, not a test: figures depend on the machine.

Writes a Markdown report to stdout and to bench/results/growth.md, the figures to
growth.json. Targets: every dashboard read p99 < 20 ms, today's stats < 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import psycopg
from sqlalchemy import event, select, text
from sqlalchemy.engine import make_url

from lucine_adapters.bootstrap import bootstrap_in_memory
from lucine_adapters.sql import migrate
from lucine_adapters.sql import tables as t
from lucine_adapters.sql.database import SqlDatabase, make_engine, sqlite_url
from lucine_adapters.sql.seed import SeedReport, seed
from lucine_adapters.system import FixedClock
from lucine_core.enums import AuditAction, Availability, QueueStatus, Role, SessionStatus
from lucine_core.operators import Operator
from lucine_core.services import Services
from lucine_core.services.analytics import daily_counts, stats
from lucine_core.services.chat import poll
from lucine_core.services.conversation import history
from lucine_core.services.dashboard import active_chats, pending_chats
from lucine_core.services.privacy import audit_trail

RESULTS = Path(__file__).resolve().parent / "results" / "growth.md"
READ_TARGET_MS = 20.0
STATS_TARGET_MS = 50.0
AUDIT_PER_SESSION = 2
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
WARMUP = 3
# Tables small by nature: a scan of them is no finding.
SMALL_TABLES = {"operators"}
# A subquery SQLite materialised (the newest message of each chat): its rows were found
# through an index already; scanning them is not scanning a table.
SQLITE_SUBQUERY = re.compile(r"^SCAN (anon_\d+|\(subquery)")
SQLITE_INDEX = re.compile(r"USING (INDEX|PRIMARY KEY|COVERING INDEX|INTEGER PRIMARY KEY)")
PG_INDEX = ("Index Scan", "Index Only Scan", "Bitmap Index Scan")


@attrs.frozen
class Timing:
    backend: str
    name: str
    samples: list[float]
    statements: int

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def percentile(self, share: float) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]

    @property
    def p99(self) -> float:
        return self.percentile(0.99)

    @property
    def target(self) -> float:
        return STATS_TARGET_MS if self.name.startswith("stats") else READ_TARGET_MS


@attrs.frozen
class Plan:
    backend: str
    use_case: str
    sql: str
    runs: int
    plan: str
    indexed: bool
    scans: list[str]


class Capture:
    """Records the SELECTs the driver runs while on."""

    def __init__(self, database: SqlDatabase) -> None:
        self.on = False
        self.seen: list[tuple[str, Any]] = []
        event.listen(database.engine.sync_engine, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, sql: str, params: Any, *_: Any) -> None:
        if self.on and sql.lstrip().upper().startswith(("SELECT", "WITH")):
            self.seen.append((sql, params))

    async def run(self, work: Callable[[], Awaitable[object]]) -> list[tuple[str, Any]]:
        self.seen, self.on = [], True
        try:
            await work()
        finally:
            self.on = False
        return self.seen


async def explain(database: SqlDatabase, sql: str, params: Any) -> str:
    """The plan of one captured statement, with its own parameters."""
    prefix = (
        "EXPLAIN QUERY PLAN " if database.dialect == "sqlite" else "EXPLAIN (ANALYZE, BUFFERS) "
    )
    async with database.engine.connect() as conn:
        result = await conn.exec_driver_sql(prefix + sql, params)
        found = result.all()
        await conn.rollback()
    if database.dialect == "sqlite":
        return "\n".join(str(row[-1]) for row in found)
    return "\n".join(str(row[0]) for row in found)


def judge(dialect: str, plan: str) -> tuple[bool, list[str]]:
    """Whether indexes serve the statement (scans of small tables aside), and the big scans."""
    lines = [line.strip() for line in plan.splitlines()]
    if dialect == "sqlite":
        scanned = [
            line
            for line in lines
            if line.startswith("SCAN")
            and not SQLITE_INDEX.search(line)
            and not SQLITE_SUBQUERY.match(line)
        ]
        # Only stored tables count: not a CTE's or a VALUES list's rows ("SCAN 14 CONSTANT
        # ROWS", "SCAN periods").
        big = [
            line
            for line in scanned
            if line.split()[1] in t.metadata.tables and line.split()[1] not in SMALL_TABLES
        ]
        indexed = bool(SQLITE_INDEX.search(plan))
    else:
        scanned = [line for line in lines if "Seq Scan on " in line]
        big = [
            line for line in scanned if line.split("Seq Scan on ")[1].split()[0] not in SMALL_TABLES
        ]
        indexed = any(kind in plan for kind in PG_INDEX)
    return not big and (indexed or bool(scanned)), big


async def timed(work: Callable[[], Awaitable[object]], repeat: int) -> list[float]:
    for _ in range(WARMUP):
        await work()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        await work()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def targets(database: SqlDatabase) -> dict[str, Any]:
    """A chat with the assistant, a queued chat and a chat with notes, from the seed."""
    waiting = select(t.queue_entries.c.session_id).where(
        t.queue_entries.c.status == QueueStatus.WAITING.value
    )
    async with database.engine.connect() as conn:
        chat = (
            await conn.execute(
                select(t.sessions.c.id, t.sessions.c.message_count)
                .where(t.sessions.c.status == SessionStatus.ACTIVE.value)
                .where(t.sessions.c.id.not_in(waiting))
                .limit(1)
            )
        ).one()
        queued = (
            await conn.execute(waiting.order_by(t.queue_entries.c.requested_at.desc()))
        ).first()
        noted = (await conn.execute(select(t.notes.c.session_id).limit(1))).scalar_one()
    return {"chat": chat, "queued": queued[0] if queued else chat[0], "noted": noted}


async def add_operator(database: SqlDatabase, now: datetime) -> str:
    operator = Operator(
        id=secrets.token_hex(16),
        username=f"bench-{secrets.token_hex(3)}",
        display_name="Bench",
        password_hash="!",  # noqa: S106 - unusable on purpose: nobody logs in
        availability=Availability.ONLINE,
        role=Role.ADMIN,  # the audit page is an admin's
        created_at=now,
    )
    async with database() as uow:
        await uow.operators.add(operator)
        await uow.commit()
    return operator.id


async def measure(
    backend: str, database: SqlDatabase, now: datetime, repeat: int
) -> tuple[list[Timing], list[Plan]]:
    services: Services = attrs.evolve(bootstrap_in_memory(clock=FixedClock(now)), uow=database)
    found = await targets(database)
    operator_id = await add_operator(database, now)
    chat_id, count = found["chat"]
    use_cases: dict[str, Callable[[], Awaitable[object]]] = {
        "poll (assistant chat)": lambda: poll(services, session_id=chat_id, after_seq=count - 2),
        "poll (queued chat)": lambda: poll(services, session_id=found["queued"], after_seq=0),
        "pending_chats": lambda: pending_chats(services),
        "active_chats": lambda: active_chats(services),
        "history": lambda: history(services, operator_id=operator_id, session_id=found["noted"]),
        "stats (today)": lambda: stats(services),
        "daily_counts (14 days)": lambda: daily_counts(services, days=14),
        "audit page": lambda: audit_trail(services, actor_id=operator_id),
    }
    capture = Capture(database)
    timings, plans = [], []
    for name, work in use_cases.items():
        samples = await timed(work, repeat)
        statements = await capture.run(work)
        timings.append(Timing(backend, name, samples, len(statements)))
        runs: dict[str, tuple[Any, int]] = {}
        for sql, params in statements:
            runs[sql] = (runs.get(sql, (params, 0))[0], runs.get(sql, (params, 0))[1] + 1)
        for sql, (params, times) in runs.items():
            plan = await explain(database, sql, params)
            indexed, scans = judge(database.dialect, plan)
            plans.append(Plan(backend, name, " ".join(sql.split()), times, plan, indexed, scans))
    return timings, plans


async def seeded(
    database: SqlDatabase, url: str, sessions: int, now: datetime
) -> tuple[SeedReport, str]:
    await migrate.upgrade(url)
    last = [0.0]

    def progress(done: int) -> None:
        if time.perf_counter() - last[0] > 10 or done == sessions:  # noqa: PLR2004
            last[0] = time.perf_counter()
            print(f"  {database.dialect}: {done:,}/{sessions:,} sessions", flush=True)

    report = await seed(
        database, sessions=sessions, progress=progress, now=now, timezone="Europe/Rome"
    )
    report = attrs.evolve(
        report, rows={**report.rows, "audit": await seed_audit(database, sessions, now)}
    )
    async with database.engine.connect() as conn:
        if database.dialect == "postgresql":
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))
            await conn.commit()
            size = (
                await conn.execute(text("SELECT pg_database_size(current_database())"))
            ).scalar_one()
        else:
            size = Path(make_url(url).database or "").stat().st_size  # noqa: ASYNC240 - once
    return report, f"{size / 2**20:,.0f} MiB"


async def seed_audit(database: SqlDatabase, sessions: int, now: datetime) -> int:
    """Operators' audit lines over the seeded weeks (the seed writes none): two per chat."""
    actions = (AuditAction.TAKE_CHAT, AuditAction.VIEW_HISTORY, AuditAction.STATUS_CHANGE)
    total = sessions * AUDIT_PER_SESSION
    span = 30 * 24 * 3600
    chunk = 5000
    async with database.engine.begin() as conn:
        for start in range(0, total, chunk):
            rows = [
                {
                    "at": now - timedelta(seconds=span * (total - n) / total),
                    "actor": f"operator:seed-{n % 7}",
                    "action": actions[n % len(actions)].value,
                    "subject": f"seed-session-{n // AUDIT_PER_SESSION}",
                    "details": {},
                }
                for n in range(start, min(total, start + chunk))
            ]
            await conn.execute(t.audit.insert(), rows)
    return total


async def run_sqlite(sessions: int, repeat: int, now: datetime) -> Any:
    with tempfile.TemporaryDirectory(prefix="lucine-growth-") as folder:
        url = sqlite_url(Path(folder) / "growth.sqlite3")
        database = SqlDatabase(make_engine(url))
        try:
            report, size = await seeded(database, url, sessions, now)
            return ("sqlite", report, size, *await measure("sqlite", database, now, repeat))
        finally:
            await database.dispose()


async def run_postgres(sessions: int, repeat: int, now: datetime) -> Any:
    admin = make_url(os.environ.get("LUCINE_BENCH_DATABASE_URL", DEFAULT_ADMIN_URL))
    plain = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"lucine_growth_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]  # name is ours
    url = admin.set(drivername="postgresql+psycopg", database=name).render_as_string(
        hide_password=False
    )
    database = SqlDatabase(make_engine(url, pool_size=2))
    try:
        report, size = await seeded(database, url, sessions, now)
        return ("postgres", report, size, *await measure("postgres", database, now, repeat))
    finally:
        await database.dispose()
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def markdown(results: list[Any], sessions: int, repeat: int) -> str:
    out = [
        f"# Growth benchmark: {sessions:,} sessions",
        "",
        f"`.venv/bin/python bench/growth.py --sessions {sessions}`, {repeat} runs per use case "
        f"after {WARMUP} warm-ups, one client; {time.strftime('%Y-%m-%d')}, "
        f"{os.cpu_count()} cores.",
        "",
        "## Seeding",
        "",
        "| backend | seconds | sessions | messages | events | other rows | size |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for backend, report, size, _, _ in results:
        rows = report.rows
        other = sum(rows.values()) - rows["sessions"] - rows["messages"] - rows["events"]
        out.append(
            f"| {backend} | {report.seconds:.1f} | {rows['sessions']:,} | {rows['messages']:,} "
            f"| {rows['events']:,} | {other:,} | {size} |"
        )
    out += [
        "",
        "## Use cases",
        "",
        "| backend | use case | p50 ms | p99 ms | target p99 | SELECTs | every SELECT indexed |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    findings = []
    for backend, _, _, timings, plans in results:
        for timing in timings:
            mine = [p for p in plans if p.use_case == timing.name]
            unindexed = [p for p in mine if not p.indexed]
            met = "met" if timing.p99 < timing.target else "**missed**"
            out.append(
                f"| {backend} | {timing.name} | {timing.median:.1f} | {timing.p99:.1f} "
                f"| < {timing.target:.0f} ({met}) | {timing.statements} "
                f"| {'yes' if not unindexed else 'NO'} |"
            )
            if timing.p99 >= timing.target:
                findings.append(
                    f"- **{backend} / {timing.name}**: p99 {timing.p99:.1f} ms "
                    f"(target < {timing.target:.0f} ms) over {timing.statements} SELECTs."
                )
            findings += [
                f"- **{backend} / {timing.name}**: no index for `{p.sql[:160]}`: "
                f"{'; '.join(p.scans) or p.plan.splitlines()[0]}"
                for p in unindexed
            ]
    out += ["", "## Findings", "", *(findings or ["- none: every SELECT uses an index"])]
    out += ["", "## Plans", ""]
    for backend, _, _, _, plans in results:
        for p in plans:
            verdict = "index" if p.indexed else "NO INDEX"
            out += [
                f"**{backend} / {p.use_case}** ({p.runs}x, {verdict}): `{p.sql[:300]}`",
                "",
                "```",
                p.plan,
                "```",
                "",
            ]
    return "\n".join(out)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=100)
    parser.add_argument("--only", choices=("sqlite", "postgres"))
    args = parser.parse_args()
    now = datetime.now(UTC)
    results = []
    if args.only in (None, "sqlite"):
        results.append(await run_sqlite(args.sessions, args.repeat, now))
    if args.only in (None, "postgres"):
        results.append(await run_postgres(args.sessions, args.repeat, now))
    report = markdown(results, args.sessions, args.repeat)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report + "\n")
    figures = {
        "sessions": args.sessions,
        "repeat": args.repeat,
        "date": f"{now:%Y-%m-%d}",
        "cores": os.cpu_count(),
        "use_cases": [
            {
                "backend": timing.backend,
                "use_case": timing.name,
                "p50_ms": round(timing.median, 2),
                "p99_ms": round(timing.p99, 2),
                "target_p99_ms": timing.target,
                "selects": timing.statements,
            }
            for _, _, _, timings, _ in results
            for timing in timings
        ],
    }
    RESULTS.with_suffix(".json").write_text(json.dumps(figures, indent=2) + "\n")
    print(report)


if __name__ == "__main__":
    asyncio.run(main())
