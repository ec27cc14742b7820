"""`seed` and `lucine dev seed`: a realistic database the app can read back, on SQLite."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Table, func, select
from typer.testing import CliRunner

from lucine_adapters.sql import rows
from lucine_adapters.sql import tables as t
from lucine_adapters.sql.database import SqlDatabase
from lucine_adapters.sql.seed import seed
from lucine_adapters.sql.stores import SqlSessionStore
from lucine_cli.main import app
from lucine_core.enums import QueueStatus, SessionStatus
from tests.databases import open_sqlite

NOW = datetime(2026, 12, 8, 17, 30, tzinfo=UTC)
SESSIONS = 200


async def _count(database: SqlDatabase, table: Table) -> int:
    async with database.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def test_seed_writes_the_asked_volume_in_every_state(tmp_path: Path) -> None:
    """200 sessions give exactly 10 messages and 10 session events each, in all 8 states."""
    async with open_sqlite(tmp_path) as database:
        report = await seed(database, sessions=SESSIONS, now=NOW)
        assert await _count(database, t.sessions) == SESSIONS
        assert await _count(database, t.messages) == 10 * SESSIONS
        async with database.engine.connect() as conn:
            events = (await conn.execute(select(t.events))).mappings().all()
            queue = (await conn.execute(select(t.queue_entries))).mappings().all()
        assert len([e for e in events if e["session_id"]]) == 10 * SESSIONS
        assert report.rows["events"] == len(events)
        assert set(report.statuses) == {s.value for s in SessionStatus}
        assert any(q["status"] == QueueStatus.WAITING.value for q in queue)
        assert report.rows["tickets"] > 0
        assert report.rows["notes"] > 0


async def test_every_row_reads_back_through_the_app(tmp_path: Path) -> None:
    """Every event parses with event_from_row, every session loads, seqs run 1..n unbroken."""
    async with open_sqlite(tmp_path) as database:
        await seed(database, sessions=SESSIONS, now=NOW, seed=7)
        async with database.engine.connect() as conn:
            events = (await conn.execute(select(t.events))).mappings().all()
            messages = (await conn.execute(select(t.messages))).mappings().all()
            ids = (await conn.execute(select(t.sessions.c.id))).scalars().all()
            sessions = SqlSessionStore(conn)
            loaded = [await sessions.get(sid) for sid in ids]
        parsed = [rows.event_from_row(e) for e in events]
        assert {e.type.value for e in parsed} >= {"session_started", "chat_status_changed"}
        assert all(e.at <= NOW for e in parsed)
        seqs: dict[str, list[int]] = {}
        for message in messages:
            rows.message_from_row(message)
            seqs.setdefault(message["session_id"], []).append(message["seq"])
        for session in loaded:
            assert sorted(seqs[session.id]) == list(range(1, session.message_count + 1))
            moments = [c.at for c in session.history]
            assert moments == sorted(moments)
            assert all(at <= session.last_activity_at for at in moments)
        waiting = [s for s in loaded if s.status is SessionStatus.WAITING_CLIENT]
        assert all(s.operator_id for s in waiting)


async def test_the_same_seed_and_now_give_the_same_rows(tmp_path: Path) -> None:
    """Seeding twice with one seed and one clock writes identical sessions."""
    found = []
    for run in range(2):
        folder = tmp_path / str(run)
        folder.mkdir()
        async with open_sqlite(folder) as database:
            await seed(database, sessions=50, now=NOW, seed=3)
            async with database.engine.connect() as conn:
                query = select(t.sessions.c.id, t.sessions.c.status).order_by(t.sessions.c.id)
                found.append((await conn.execute(query)).all())
    assert found[0] == found[1]


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data folder and no DATABASE_URL, so the CLI uses its own SQLite file."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("LUCINE_DATA_DIR", str(tmp_path))
    return tmp_path


def test_cli_seeds_then_refuses_a_second_seed_without_yes(data_dir: Path) -> None:
    """`lucine dev seed` creates the schema and seeds; again it exits 2 unless --yes."""
    runner = CliRunner()
    first = runner.invoke(app, ["dev", "seed", "--sessions", "60"])
    assert first.exit_code == 0, first.output
    assert "seeded 60 sessions" in first.output
    assert (data_dir / "lucine.sqlite3").exists()
    again = runner.invoke(app, ["dev", "seed", "--sessions", "60"])
    assert again.exit_code == 2
    assert "already has 60 sessions" in again.output
    more = runner.invoke(app, ["dev", "seed", "--sessions", "40", "--yes"])
    assert more.exit_code == 0, more.output
    written = dict(line.split() for line in more.output.splitlines() if len(line.split()) == 2)
    assert written["sessions"] == "40"
    assert written["messages"] == "400"
