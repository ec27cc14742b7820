"""`lucine worker` processes side by side on one Postgres: each due session handled once.

Three workers sweep every 0.2 s while chats that went quiet long ago are written; each
session must change state exactly once (ACTIVE -> IDLE after 20 quiet minutes, ACTIVE ->
ENDED after 40), however the three interleave.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import httpx
import psycopg

from lucine_adapters.bootstrap import running
from lucine_adapters.settings import Settings
from lucine_adapters.system import FixedClock
from lucine_core.enums import SessionStatus
from lucine_core.services.chat import visitor_message
from tests.databases import empty_postgres, plain_url
from tests.http_server import lucine_command, serve_process

IDLE, ENDED = SessionStatus.IDLE.value, SessionStatus.ENDED.value
WORKERS = 3
QUIET_20 = 120  # sessions that go IDLE
QUIET_40 = 180  # sessions that END
DEADLINE = 90.0


def _changes(url: str) -> list[tuple[str, str, str]]:
    with psycopg.connect(plain_url(url)) as conn:
        rows = conn.execute(
            "SELECT session_id, from_status, to_status FROM session_changes"
        ).fetchall()
    return [(str(a), str(b), str(c)) for a, b, c in rows]


def _start_workers(
    env: dict[str, str], folder: Path, count: int = WORKERS
) -> list[tuple[subprocess.Popen[bytes], Path]]:
    started = []
    for n in range(count):
        log = folder / f"worker-{n}.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
                lucine_command("worker", "--interval", "0.2"),
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        started.append((process, log))
    deadline = time.monotonic() + 60
    for process, log in started:
        while "jobs every" not in log.read_text():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
    return started


async def test_workers_change_each_due_session_exactly_once(postgres_url: str) -> None:
    """Hundreds of due sessions, three workers racing: one state change each, none missed."""
    empty_postgres(postgres_url)
    env = {
        **os.environ,
        "DATABASE_URL": postgres_url,
        "LUCINE_EMBEDDINGS": "off",
        "LUCINE_AUTO_ASSIGN": "false",
        "PYTHONUNBUFFERED": "1",
    }
    settings = Settings.from_env({"DATABASE_URL": postgres_url, "LUCINE_EMBEDDINGS": "off"})
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="lucine-workers-") as folder:
        env["LUCINE_DATA_DIR"] = str(Path(folder) / "data")
        workers = _start_workers(env, Path(folder))
        try:
            idle: set[str] = set()
            ended: set[str] = set()
            async with running(settings) as services:
                for n in range(QUIET_20 + QUIET_40):
                    quiet = timedelta(minutes=20 if n < QUIET_20 else 40)
                    past = attrs.evolve(services, clock=FixedClock(now - quiet))
                    reply = await visitor_message(past, text="ciao", session_id=None)
                    (idle if n < QUIET_20 else ended).add(reply.session_id)
            deadline = time.monotonic() + DEADLINE
            while time.monotonic() < deadline:
                done = {(s, to) for s, _, to in _changes(postgres_url)}
                if all((s, IDLE) in done for s in idle) and all((s, ENDED) in done for s in ended):
                    break
                await asyncio.sleep(0.2)
            await asyncio.sleep(1.0)  # a few more sweeps by every worker: nothing may change again
        finally:
            for process, _ in workers:
                process.send_signal(signal.SIGTERM)
            outputs = []
            for process, log in workers:
                process.wait(timeout=20)
                outputs.append(log.read_text())
    for process, output in zip((p for p, _ in workers), outputs, strict=True):
        assert process.returncode == 0, output
        assert "stopped after" in output, output
    changes = Counter((s, to) for s, _, to in _changes(postgres_url))
    for sid in idle:
        assert changes[(sid, IDLE)] == 1, (sid, changes[(sid, IDLE)])
        assert changes[(sid, ENDED)] == 0
    for sid in ended:
        assert changes[(sid, ENDED)] == 1, (sid, changes[(sid, ENDED)])
        assert changes[(sid, IDLE)] == 0
    swept_by = [o.count("ended=") + o.count("idle=") for o in outputs]
    print(f"\nworkers' sweeps that changed something: {swept_by}")


def test_health_of_a_server_without_jobs_shows_the_workers_runs(postgres_url: str) -> None:
    """`serve --no-jobs` runs no loop of its own; its health shows the worker's last sweep."""
    env = {**os.environ, "DATABASE_URL": postgres_url, "LUCINE_EMBEDDINGS": "off"}
    with (
        tempfile.TemporaryDirectory(prefix="lucine-worker-") as folder,
        serve_process(database_url=postgres_url, admin=False, jobs=False) as server,
    ):
        env["LUCINE_DATA_DIR"] = str(Path(folder) / "data")
        before = httpx.get(f"{server.url}/api/health", timeout=5).json()
        assert before["backgroundJobs"] == "stopped"
        workers = _start_workers(env, Path(folder), count=1)
        try:
            deadline = time.monotonic() + 20
            while True:
                body = httpx.get(f"{server.url}/api/health", timeout=5).json()
                sweep = body["jobs"].get("sweep")
                mine = sweep and sweep["runner"].endswith(f":{workers[0][0].pid}")
                # The run records its sweep, then its purge: a probe may fall in between.
                if mine and "purge" in body["jobs"]:
                    break
                assert time.monotonic() < deadline, body
                time.sleep(0.2)
        finally:
            for process, _ in workers:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=20)
    assert body["status"] == "healthy"
    assert body["backgroundJobs"] == "stopped"
    assert sweep["secondsAgo"] < 5
    assert "purge" in body["jobs"]  # the first run purges too
