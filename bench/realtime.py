"""Realtime over real HTTP: an operator's reply reaching the visitor's open stream, two workers.

    python3 dev.py nox -s bench          (or: .venv/bin/python bench/realtime.py --messages 500)

Starts `lucine serve --workers 2` on a throwaway Postgres database (bench/load.py's: of
127.0.0.1:5432 as user postgres or of LUCINE_BENCH_DATABASE_URL's server), whose workers
fan realtime events out to each other through LISTEN/NOTIFY. The admin logs in, and
``--chats`` visitor chats are opened, queued for a human (the request_operator action) and
taken by the admin (take-chat). Each visitor keeps its chat's event stream open (GET
/api/chat/stream/{id}, read with httpx as the widget reads it), and the chats run side by
side: the operator POSTs /api/operators/send-message, waits until the stream has announced
that message (a "message" event with its seq) and sends the next. Latency runs from just
before the POST is sent to the stream's client reading the event; one not read within
``--timeout`` s is lost. The first ``--warmup`` messages of each chat are not counted.

Which worker holds a connection is read from /proc: the server side of the TCP connection
(/proc/net/tcp) and the worker owning that socket (/proc/PID/fd). Connections are opened
until the streams are spread evenly over both workers and the operator has connections to
each; a chat's messages then alternate between a connection to its stream's worker and
one to the other worker, so half the deliveries cross processes through Postgres. The
table shows them apart (by where each POST was actually served). Client and server share
the machine, so the client's own event loop is part of every figure. Prints one Markdown
table, and writes it with the raw figures to bench/results/realtime.md and realtime.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import random
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import httpx
import psycopg
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.load import QUESTIONS, RAISED_LIMIT, RESULTS, open_chats, throwaway_postgres
from tests.http_server import ADMIN_PASSWORD, ADMIN_USERNAME, serve_process

WORKERS = 2
TARGET_P99_MS = 100.0
ATTEMPTS_PER_CONNECTION = 40  # connections opened (at most) per one kept on the wanted worker


def socket_owner(server_port: int, client_port: int, workers: set[int]) -> int | None:
    """The worker holding the server side of the connection from ``client_port``, if any."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1].split(":")[1], fields[2].split(":")[1]
        if int(local, 16) == server_port and int(remote, 16) == client_port:
            inode = fields[9]
            break
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in workers:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                if os.readlink(fd) == target:
                    return pid
    return None


def local_port(response: httpx.Response) -> int:
    """The client's port of the connection that carried ``response``."""
    return int(response.extensions["network_stream"].get_extra_info("client_addr")[1])


@attrs.define
class Server:
    """Where the server answers and which processes are its workers."""

    url: str
    port: int
    workers: set[int]
    _owners: dict[int, int | None] = attrs.field(factory=dict)

    def worker_of(self, response: httpx.Response) -> int | None:
        """The worker that served ``response`` (looked up once per connection)."""
        port = local_port(response)
        if port not in self._owners:
            self._owners[port] = socket_owner(self.port, port, self.workers)
        return self._owners[port]

    def forget(self, response: httpx.Response) -> None:
        """Before closing its connection: the port may come back, to another worker."""
        self._owners.pop(local_port(response), None)


@attrs.define
class Stream:
    """One visitor's open event stream: when each operator message's event was read."""

    session_id: str
    worker: int
    client: httpx.AsyncClient
    response: httpx.Response
    arrivals: dict[int, float] = attrs.field(factory=dict)
    heard: asyncio.Event = attrs.field(factory=asyncio.Event)
    reader: asyncio.Task[None] | None = None

    async def read(self, lines: AsyncIterator[str]) -> None:
        """Note the time of every operator message announced, as soon as its line is read."""
        kind = ""
        async for line in lines:
            if line.startswith("event:"):
                kind = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and kind == "message":
                data = json.loads(line.split(":", 1)[1])
                if data.get("sender") == "OPERATOR":
                    self.arrivals[int(data["seq"])] = time.perf_counter()
                    self.heard.set()

    async def arrival(self, seq: int, deadline: float) -> float | None:
        """When the event of message ``seq`` was read, or None if not by ``deadline``."""
        while seq not in self.arrivals:
            self.heard.clear()
            try:
                await asyncio.wait_for(self.heard.wait(), deadline - time.perf_counter())
            except TimeoutError:
                return self.arrivals.get(seq)
        return self.arrivals[seq]

    async def close(self) -> None:
        """Stop reading and close the connection."""
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                await self.reader
        await self.response.aclose()
        await self.client.aclose()


async def open_streams(server: Server, chats: list[str]) -> list[Stream]:
    """One stream per chat, half on each worker: a stream landing on a full one is reopened."""
    room = Counter({pid: math.ceil(len(chats) / WORKERS) for pid in server.workers})
    streams: list[Stream] = []
    for _ in range(ATTEMPTS_PER_CONNECTION * len(chats)):
        if len(streams) == len(chats):
            return streams
        client = httpx.AsyncClient(base_url=server.url, timeout=httpx.Timeout(10, read=None))
        session_id = chats[len(streams)]
        request = client.build_request("GET", f"/api/chat/stream/{session_id}")
        response = await client.send(request, stream=True)
        response.raise_for_status()
        worker = server.worker_of(response)
        if worker is None or room[worker] <= 0:
            server.forget(response)
            await response.aclose()
            await client.aclose()
            continue
        room[worker] -= 1
        stream = Stream(session_id=session_id, worker=worker, client=client, response=response)
        lines = response.aiter_lines()
        async for line in lines:  # subscribed once "ready" is sent
            if line.startswith("event:") and line.split(":", 1)[1].strip() == "ready":
                break
        stream.reader = asyncio.create_task(stream.read(lines))
        streams.append(stream)
    raise SystemExit(f"streams did not spread over both workers; room left: {dict(room)}")


async def operator_connections(
    server: Server, headers: dict[str, str], per_worker: int
) -> dict[int, asyncio.Queue[httpx.AsyncClient]]:
    """``per_worker`` kept-alive operator connections to each worker, one client each."""
    pools: dict[int, asyncio.Queue[httpx.AsyncClient]] = {
        pid: asyncio.Queue() for pid in server.workers
    }
    for _ in range(ATTEMPTS_PER_CONNECTION * per_worker * WORKERS):
        if all(pool.qsize() >= per_worker for pool in pools.values()):
            return pools
        limits = httpx.Limits(max_connections=1, keepalive_expiry=60)
        client = httpx.AsyncClient(base_url=server.url, headers=headers, limits=limits)
        response = await client.get("/api/operators/me")
        response.raise_for_status()
        worker = server.worker_of(response)
        if worker in pools and pools[worker].qsize() < per_worker:
            pools[worker].put_nowait(client)
        else:
            server.forget(response)
            await client.aclose()
    raise SystemExit(f"could not reach both workers: {[pool.qsize() for pool in pools.values()]}")


async def converse(
    server: Server,
    stream: Stream,
    pools: dict[int, asyncio.Queue[httpx.AsyncClient]],
    args: argparse.Namespace,
    *,
    index: int,
    count: int,
) -> list[dict[str, Any]]:
    """The operator's messages to one chat, each awaited on its stream; the counted ones."""
    other = next(pid for pid in server.workers if pid != stream.worker)
    results: list[dict[str, Any]] = []
    # Operators type independently: a random start, then pauses of 0.5 to 1.5 times
    # --pause, so the chats' messages do not arrive in synchronised bursts.
    rng = random.Random(index)
    await asyncio.sleep(rng.uniform(0, args.pause))
    for n in range(args.warmup + count):
        pool = pools[stream.worker if (n + index) % 2 == 0 else other]
        client = await pool.get()
        body = {
            "sessionId": stream.session_id,
            "message": f"Risposta {n}: {QUESTIONS[n % len(QUESTIONS)]}",
        }
        try:
            started = time.perf_counter()
            response = await client.post("/api/operators/send-message", json=body)
            answered = time.perf_counter()
            worker = server.worker_of(response)
        finally:
            pool.put_nowait(client)
        response.raise_for_status()
        arrived = await stream.arrival(int(response.json()["seq"]), started + args.timeout)
        if n < args.warmup:
            continue
        late = None if arrived is None else (arrived - answered) * 1000
        latency = None if arrived is None else (arrived - started) * 1000
        cross = None if worker is None else worker != stream.worker
        post = (answered - started) * 1000
        results.append({"cross": cross, "latency_ms": latency, "post_ms": post, "late_ms": late})
        await asyncio.sleep(rng.uniform(0.5, 1.5) * args.pause)
    return results


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank percentile of ``values`` (NaN if there are none)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] if ordered else math.nan


def figures(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Count, latency percentiles, lost, the POST's round trip, the event after the answer."""
    heard = [r["latency_ms"] for r in results if r["latency_ms"] is not None]
    posts = [r["post_ms"] for r in results]
    late = [r["late_ms"] for r in results if r["late_ms"] is not None]
    return {
        "count": len(results),
        "received": len(heard),
        "lost": len(results) - len(heard),
        **{f"p{p}_ms": round(percentile(heard, p), 2) for p in (50, 95, 99)},
        "max_ms": round(max(heard, default=math.nan), 2),
        "post_p50_ms": round(percentile(posts, 50), 2),
        "post_p99_ms": round(percentile(posts, 99), 2),
        "after_answer_p50_ms": round(percentile(late, 50), 2),
        "after_answer_p99_ms": round(percentile(late, 99), 2),
        "read_before_answer": sum(t < 0 for t in late),
    }


async def drive(server: Server, chats: list[str], token: str, args: argparse.Namespace) -> Any:
    """Streams, operator connections, then every chat's conversation at once."""
    headers = {"Authorization": f"Bearer {token}"}
    pools = await operator_connections(server, headers, len(chats))
    streams = await open_streams(server, chats)
    share, extra = divmod(args.messages, len(chats))
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        runs = await asyncio.gather(
            *(
                converse(server, s, pools, args, index=n, count=share + (n < extra))
                for n, s in enumerate(streams)
            )
        )
    finally:
        for stream in streams:
            await stream.close()
        for pool in pools.values():
            while not pool.empty():
                await pool.get_nowait().aclose()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    pace = {"seconds": round(wall, 2), "client_cpu_share": round(cpu / wall, 2)}
    return [r for run in runs for r in run], Counter(s.worker for s in streams), pace


def prepare(url: str, chats: int) -> tuple[list[str], str]:
    """The admin's token, and ``chats`` chats queued for a human and taken by the admin."""
    with httpx.Client(base_url=url, timeout=30) as client:
        login = {"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD}
        response = client.post("/api/operators/login", json=login)
        response.raise_for_status()
        token = response.json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        ids = open_chats(url, chats)
        for sid in ids:
            action = {"sessionId": sid, "action": "request_operator"}
            client.post("/api/chat/action", json=action).raise_for_status()
            taken = client.post(
                "/api/operators/take-chat", json={"sessionId": sid}, headers=headers
            )
            taken.raise_for_status()
    return ids, token


def measure(database_url: str, args: argparse.Namespace) -> dict[str, Any]:
    """One server with two workers; the deliveries' figures, all and by same/cross worker."""
    env = {
        "LUCINE_CHAT_LIMIT_PER_MINUTE": str(RAISED_LIMIT),
        "LUCINE_NEW_SESSIONS_PER_HOUR": str(RAISED_LIMIT),
        "LUCINE_EMBEDDINGS": "off",  # the encoder plays no part in the fan-out
        "LUCINE_AUTO_ASSIGN": "false",  # the chats wait in the queue until taken
    }
    with serve_process(database_url=database_url, env=env, workers=WORKERS) as running:
        deadline = time.monotonic() + 30
        while len(running.workers()) < WORKERS and time.monotonic() < deadline:
            time.sleep(0.1)
        server = Server(running.url, int(running.url.rsplit(":", 1)[1]), running.workers())
        chats, token = prepare(server.url, args.chats)
        print(f"  {len(chats)} chats taken; messages", file=sys.stderr, flush=True)
        results, placed, pace = asyncio.run(drive(server, chats, token, args))
    rows = {
        "all": figures(results),
        "same worker": figures([r for r in results if r["cross"] is False]),
        "across workers": figures([r for r in results if r["cross"]]),
    }
    if unknown := sum(r["cross"] is None for r in results):
        rows["worker not found"] = figures([r for r in results if r["cross"] is None])
        print(f"  {unknown} POSTs on a connection found in no worker", file=sys.stderr)
    return {"rows": rows, "streams_per_worker": sorted(placed.values()), **pace}


def postgres_version(database_url: str) -> str:
    """The server's version, as SHOW server_version says it."""
    plain = make_url(database_url).set(drivername="postgresql")
    with psycopg.connect(plain.render_as_string(hide_password=False)) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"


def markdown(run: dict[str, Any], args: argparse.Namespace) -> str:
    """The table, the target beside it, and how it was run."""
    total = args.messages + args.warmup * args.chats
    lines = [
        "# Realtime delivery benchmark",
        "",
        f"`.venv/bin/python bench/realtime.py --messages {args.messages} --chats {args.chats}"
        f" --warmup {args.warmup} --timeout {args.timeout:g} --pause {args.pause:g}`;"
        f" {datetime.now(UTC):%Y-%m-%d},"
        f" {os.cpu_count()} cores (load {run['load_average']:.2f} at start),"
        f" {platform.python_implementation()} {platform.python_version()}, Postgres"
        f" {run['postgres']}; client on the same machine as the server. `lucine serve"
        f" --workers {WORKERS}` on Postgres (LISTEN/NOTIFY between workers), streams per"
        f" worker {run['streams_per_worker']}; {args.chats} chats in parallel, each awaiting"
        f" its message's event and 0.5 to 1.5 times {args.pause:g} s more (at random)"
        f" before the next; {args.warmup} warm-up messages per chat not"
        f" counted. Latency: from just before the operator's POST /api/operators/send-message"
        f" to the visitor's stream client reading the event; lost: not read within"
        f' {args.timeout:g} s. "Across workers": the POST served by the worker not holding'
        f" the stream. \"After the answer\": the event's read minus the POST's answer"
        f" (negative: the stream had it first). The messages took {run['seconds']:.1f} s"
        f" (warm-up included: {total / run['seconds']:.0f} messages/s), the client's own"
        f" process {run['client_cpu_share']:.0%} of a core meanwhile.",
        "",
        "| deliveries | count | p50 ms | p95 ms | p99 ms | max ms | lost |"
        " POST answered p50 / p99 ms | event read after the answer p50 / p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, f in run["rows"].items():
        lines.append(
            f"| {name} | {f['count']} | {f['p50_ms']:.1f} | {f['p95_ms']:.1f} |"
            f" {f['p99_ms']:.1f} | {f['max_ms']:.1f} | {f['lost']} |"
            f" {f['post_p50_ms']:.1f} / {f['post_p99_ms']:.1f} |"
            f" {f['after_answer_p50_ms']:.1f} / {f['after_answer_p99_ms']:.1f} |"
        )
    p99 = run["rows"]["all"]["p99_ms"]
    verdict = "met" if p99 < TARGET_P99_MS and run["rows"]["all"]["lost"] == 0 else "missed"
    lines += [
        "",
        f"Target: p99 < {TARGET_P99_MS:.0f} ms with nothing lost: {verdict} ({p99:.1f} ms).",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=500, help="Messages measured.")
    parser.add_argument("--chats", type=int, default=20, help="Chats in parallel (>= 2).")
    parser.add_argument("--warmup", type=int, default=2, help="Uncounted messages per chat.")
    parser.add_argument("--timeout", type=float, default=5.0, help="Seconds until lost.")
    parser.add_argument(
        "--pause",
        type=float,
        default=0.5,
        help="Mean seconds an operator waits after each delivered message before the next,"
        " drawn from 0.5 to 1.5 times it (a person typing; 0: as fast as the server"
        " answers, a saturation test).",
    )
    args = parser.parse_args()
    if args.chats < WORKERS or args.messages < 1:
        parser.error(f"--chats needs at least {WORKERS} and --messages at least 1")
    started = time.monotonic()
    load_average = os.getloadavg()[0]
    with throwaway_postgres() as url:
        run = measure(url, args) | {"postgres": postgres_version(url)}
    run["load_average"] = load_average
    report = markdown(run, args)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "realtime.md").write_text(report)
    payload = {
        "messages": args.messages,
        "chats": args.chats,
        "warmup": args.warmup,
        "timeout": args.timeout,
        "pause": args.pause,
        "target_p99_ms": TARGET_P99_MS,
        **run,
    }
    (RESULTS / "realtime.json").write_text(json.dumps(payload, indent=2) + "\n")
    print(report)
    print(f"({time.monotonic() - started:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
