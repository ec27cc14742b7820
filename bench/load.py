"""Lucine under load over real HTTP: requests/s, latency and memory, side by side.

    python3 dev.py nox -s bench          (or: .venv/bin/python bench/load.py --duration 30)

Starts `lucine serve` on 127.0.0.1 (SQLite with one worker; Postgres with one and with two
workers, on a throwaway database of 127.0.0.1:5432 as user postgres or of
LUCINE_BENCH_DATABASE_URL's server, created and dropped here) and drives it with wrk
(Debian's `wrk`; `apt-get install wrk`), 100 connections, for ``--duration`` seconds per
endpoint:

- ``live``: GET /api/health/live, the ceiling of the same server in the same run;
- ``chat``: POST /api/chat with the offline responder. Every connection writes in chats
  of its own (a pool of chats opened beforehand, taken in turn, so no two requests in
  flight share a chat), and one request in ``NEW_CHAT_EVERY`` opens a new chat: new
  sessions start at a steady rate, as visitors arrive;
- ``poll``: GET /api/chat/poll/{id}?since=N over the same chats, as waiting widgets do.

The per-client rate limits are raised for the run (printed in the table), since every
request comes from 127.0.0.1. RSS is each worker's peak (VmHWM) after the run, with the
bundled sentence encoder loaded (the default) or, with ``--embeddings off``, without it
(results then go to load-no-encoder.md and .json). Prints one Markdown table, and writes
it with the raw figures to bench/results/load.md and load.json. A benchmark, not a test:
figures depend on the machine; the chat/live ratio is what holds on a noisy one.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.http_server import serve_process  # noqa: E402 - after the path

RESULTS = ROOT / "bench" / "results"
DEFAULT_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
CONNECTIONS = 100
THREADS = 2
CHATS_PER_CONNECTION = 4
NEW_CHAT_EVERY = 20
RAISED_LIMIT = 1_000_000_000
QUESTIONS = [
    "a che ora aprite?",
    "dove posso parcheggiare?",
    "quanto costa il biglietto per i bambini?",
    "posso portare il cane?",
    "how much are tickets?",
    "wie viel kostet der Eintritt",
    "il biglietto vale per tutte le sere?",
    "c'è una navetta dalla stazione?",
]
# The reference system's own figures (its README: 100 concurrent users, one process).
REFERENCE = {"requests_per_second": 50.0, "mean_ms": 312.0, "peak_rss_mb": 284.0}

# wrk runs this per thread: chats in turn from the thread's share, a new chat now and then,
# and at the end one JSON line with the figures (wrk's own report has no p95).
LUA = r"""
local counter = 0
local threads = {}
local sessions = {}
local questions = {}

function setup(thread)
  thread:set("index", #threads)
  table.insert(threads, thread)
end

local function read_lines(path)
  local lines = {}
  for line in io.lines(path) do table.insert(lines, line) end
  return lines
end

function init(args)
  if #args == 0 then
    mode = "live"
    return
  end
  local all = read_lines(args[1])
  questions = read_lines(args[2])
  mode = args[3]
  new_every = tonumber(args[4])
  local count = tonumber(args[5])
  for i = 1, #all do
    if (i - 1) % count == index then table.insert(sessions, all[i]) end
  end
end

local function escape(text)
  return text:gsub('\\', '\\\\'):gsub('"', '\\"')
end

function request()
  if mode == "live" then return wrk.request() end
  counter = counter + 1
  local sid = sessions[(counter % #sessions) + 1]
  if mode == "poll" then
    return wrk.format("GET", "/api/chat/poll/" .. sid .. "?since=0")
  end
  local question = escape(questions[(counter % #questions) + 1])
  local body
  if counter % new_every == 0 then
    body = '{"message":"' .. question .. '"}'
  else
    body = '{"message":"' .. question .. '","sessionId":"' .. sid .. '"}'
  end
  return wrk.format("POST", "/api/chat", {["Content-Type"] = "application/json"}, body)
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d,' ..
    '"mean_us":%f,"max_us":%d,"status_errors":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"timeouts":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.mean, latency.max, errors.status, errors.connect,
    errors.read, errors.write, errors.timeout))
end
"""


def wrk_binary() -> str:
    """wrk on PATH, or exit with one line saying how to get it."""
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("bench/load.py needs wrk: apt-get install wrk")
    return found


def open_chats(url: str, count: int) -> list[str]:
    """``count`` chats opened the way a visitor opens one (first message)."""
    ids: list[str] = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for n in range(count):
            response = client.post("/api/chat", json={"message": QUESTIONS[n % len(QUESTIONS)]})
            response.raise_for_status()
            ids.append(response.json()["sessionId"])
    return ids


def run_wrk(url: str, path: str, duration: int, lua_args: list[str] | None) -> dict[str, Any]:
    """One wrk run; its JSON figures."""
    with tempfile.TemporaryDirectory(prefix="lucine-wrk-") as folder:
        script = Path(folder) / "load.lua"
        script.write_text(LUA)
        command = [
            wrk_binary(),
            f"-t{THREADS}",
            f"-c{CONNECTIONS}",
            f"-d{duration}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url + path,
        ]
        if lua_args:
            command += ["--", *lua_args]
        done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout}")
    figures: dict[str, Any] = json.loads(lines[-1].removeprefix("RESULT "))
    seconds = figures["duration_us"] / 1e6
    errors = sum(
        figures[k]
        for k in ("status_errors", "connect_errors", "read_errors", "write_errors", "timeouts")
    )
    return {
        "requests": figures["requests"],
        "requests_per_second": round(figures["requests"] / seconds, 1),
        "p50_ms": figures["p50_us"] / 1000,
        "p95_ms": figures["p95_us"] / 1000,
        "p99_ms": figures["p99_us"] / 1000,
        "mean_ms": round(figures["mean_us"] / 1000, 2),
        "max_ms": figures["max_us"] / 1000,
        "errors": errors,
    }


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A new database on the benchmark's Postgres server, dropped afterwards."""
    admin = make_url(os.environ.get("LUCINE_BENCH_DATABASE_URL", DEFAULT_ADMIN_URL))
    plain = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"lucine_load_{secrets.token_hex(4)}"
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def measure(
    backend: str, workers: int, duration: int, database_url: str | None, embeddings: str
) -> dict[str, Any]:
    """The three endpoints against one server; its figures."""
    env = {
        "LUCINE_CHAT_LIMIT_PER_MINUTE": str(RAISED_LIMIT),
        "LUCINE_NEW_SESSIONS_PER_HOUR": str(RAISED_LIMIT),
        "LUCINE_EMBEDDINGS": embeddings,
    }
    with (
        serve_process(database_url=database_url, admin=False, env=env, workers=workers) as server,
        tempfile.TemporaryDirectory(prefix="lucine-load-") as folder,
    ):
        chats = open_chats(server.url, CONNECTIONS * CHATS_PER_CONNECTION)
        sessions = Path(folder) / "sessions.txt"
        sessions.write_text("\n".join(chats) + "\n")
        questions = Path(folder) / "questions.txt"
        questions.write_text("\n".join(QUESTIONS) + "\n")
        common = [str(sessions), str(questions)]
        print(f"  {backend}, {workers} worker(s): live", file=sys.stderr, flush=True)
        live = run_wrk(server.url, "/api/health/live", duration, None)
        print(f"  {backend}, {workers} worker(s): chat", file=sys.stderr, flush=True)
        chat = run_wrk(
            server.url, "/api/chat", duration, [*common, "chat", str(NEW_CHAT_EVERY), str(THREADS)]
        )
        print(f"  {backend}, {workers} worker(s): poll", file=sys.stderr, flush=True)
        poll = run_wrk(server.url, "/api/chat/poll", duration, [*common, "poll", "0", str(THREADS)])
        rss = [peak_rss_mb(pid) for pid in sorted(server.workers() or {server.process.pid})]
    return {
        "backend": backend,
        "workers": workers,
        "live": live,
        "chat": chat,
        "poll": poll,
        "chat_to_live": round(chat["requests_per_second"] / live["requests_per_second"], 3),
        "peak_rss_mb_per_worker": rss,
    }


def markdown(runs: list[dict[str, Any]], duration: int, embeddings: str = "bundled") -> str:
    """The table, the reference system beside it, and how it was run."""
    lines = [
        "# Load benchmark",
        "",
        f"`.venv/bin/python bench/load.py --duration {duration}`; {datetime.now(UTC):%Y-%m-%d},"
        f" {os.cpu_count()} cores, {platform.python_implementation()}"
        f" {platform.python_version()}; wrk {THREADS} threads, {CONNECTIONS} connections,"
        f" {duration} s per endpoint, on the same machine as the server. Offline responder,"
        f" sentence encoder {'on (bundled)' if embeddings == 'bundled' else 'off'};"
        f" chat rate limits raised to {RAISED_LIMIT:,} per client for the run; one request"
        f" in {NEW_CHAT_EVERY} opens a new chat.",
        "",
        "| backend | workers | endpoint | req/s | p50 ms | p95 ms | p99 ms | errors |"
        " peak RSS MB per worker |",
        "|---|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for run in runs:
        rss = ", ".join(f"{mb:.0f}" for mb in run["peak_rss_mb_per_worker"])
        for endpoint in ("live", "chat", "poll"):
            f = run[endpoint]
            lines.append(
                f"| {run['backend']} | {run['workers']} | {endpoint} |"
                f" {f['requests_per_second']:,.0f} | {f['p50_ms']:.1f} | {f['p95_ms']:.1f} |"
                f" {f['p99_ms']:.1f} | {f['errors']} | {rss} |"
            )
    lines += ["", "| backend | workers | chat / live | chat req/s vs v2.7 (50) |"]
    lines += ["|---|---:|---:|---:|"]
    for run in runs:
        multiple = run["chat"]["requests_per_second"] / REFERENCE["requests_per_second"]
        lines.append(
            f"| {run['backend']} | {run['workers']} | {run['chat_to_live']:.3f} | x{multiple:.1f} |"
        )
    lines += [
        "",
        "The system replaced (v2.7, its own figures): 50 requests/s at 312 ms mean with 100"
        " concurrent users, 284 MB peak.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=30, help="Seconds per endpoint.")
    parser.add_argument(
        "--only", choices=["sqlite", "postgres"], help="One backend (default: both)."
    )
    parser.add_argument(
        "--embeddings",
        choices=["bundled", "off"],
        default="bundled",
        help="The server's sentence encoder (off: keyword retrieval only, less memory).",
    )
    args = parser.parse_args()
    wrk_binary()
    runs: list[dict[str, Any]] = []
    started = time.monotonic()
    if args.only in (None, "sqlite"):
        runs.append(measure("sqlite", 1, args.duration, None, args.embeddings))
    if args.only in (None, "postgres"):
        for workers in (1, 2):
            with throwaway_postgres() as url:
                runs.append(measure("postgres", workers, args.duration, url, args.embeddings))
    report = markdown(runs, args.duration, args.embeddings)
    RESULTS.mkdir(exist_ok=True)
    name = "load" if args.embeddings == "bundled" else "load-no-encoder"
    (RESULTS / f"{name}.md").write_text(report)
    payload = {
        "duration": args.duration,
        "embeddings": args.embeddings,
        "reference": REFERENCE,
        "runs": runs,
    }
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2) + "\n")
    print(report)
    print(f"({time.monotonic() - started:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
