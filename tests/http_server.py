"""A real `lucine serve` process on a free 127.0.0.1 port, for tests that need real HTTP.

``serve_process`` yields a ``RunningServer`` (URL, process, data directory, output);
``lucine_server`` yields just the base URL. Both create the first admin (``admin`` /
``ADMIN_PASSWORD``) with ``lucine operator create --admin --password-stdin`` and stop
the process afterwards (SIGTERM, then SIGKILL after 10 s).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import attrs
import httpx

__all__ = [
    "ADMIN_PASSWORD",
    "ADMIN_USERNAME",
    "RunningServer",
    "child_pids",
    "free_port",
    "lucine_command",
    "lucine_server",
    "serve_process",
]

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "a long enough admin passphrase"
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
# Variables the parent may have that would point the server somewhere else.
_INHERITED = ("DATABASE_URL", "REDIS_URL", "LUCINE_")


def lucine_command(*args: str) -> list[str]:
    """The `lucine` CLI with ``args``, run by this interpreter (no console script needed)."""
    return [sys.executable, "-c", "from lucine_cli.main import main; main()", *args]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_pids(pid: int) -> set[int]:
    """The processes ``pid`` started that are still running (from /proc)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.update(int(child) for child in (task / "children").read_text().split())
    return found


@attrs.define
class RunningServer:
    """A started `lucine serve`: where it answers, its process and its files."""

    url: str
    process: subprocess.Popen[bytes]
    data_dir: Path
    log: Path
    env: Mapping[str, str]

    def workers(self) -> set[int]:
        """The worker processes of `serve --workers N`: uvicorn spawns them (none with 1)."""
        return {
            pid
            for pid in child_pids(self.process.pid)
            if b"spawn" in Path(f"/proc/{pid}/cmdline").read_bytes()
        }

    def output(self) -> str:
        """Everything the process wrote to stdout and stderr so far."""
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float = STOP_TIMEOUT) -> float:
        """SIGTERM, wait up to ``timeout`` s (then SIGKILL); the seconds the exit took."""
        started = time.monotonic()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
        return time.monotonic() - started


def _environment(
    data_dir: Path, database_url: str | None, extra: Mapping[str, str]
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_INHERITED)}
    env.update(
        {
            "LUCINE_DATA_DIR": str(data_dir),
            "LUCINE_SECRET_KEY": secrets.token_urlsafe(36),  # 48 characters
            "PYTHONUNBUFFERED": "1",
        }
    )
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    env.update(extra)
    return env


def _wait_until_healthy(server: RunningServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"lucine serve exited with {server.process.returncode}:\n{server.output()}"
            )
        try:
            if httpx.get(f"{server.url}/api/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"lucine serve did not answer within {timeout} s:\n{server.output()}")


def create_admin(env: Mapping[str, str]) -> None:
    """`lucine operator create --admin --username admin --password-stdin` with ``env``."""
    done = subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
        lucine_command(
            "operator", "create", "--admin", "--username", ADMIN_USERNAME, "--password-stdin"
        ),
        input=f"{ADMIN_PASSWORD}\n",
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"operator create failed ({done.returncode}): {done.stderr}")


@contextmanager
def serve_process(
    *,
    database_url: str | None = None,
    migrate: bool = True,
    admin: bool = True,
    admin_first: bool = False,
    env: Mapping[str, str] | None = None,
    attempts: int = 3,
    workers: int = 1,
    jobs: bool = True,
) -> Iterator[RunningServer]:
    """`lucine serve` on 127.0.0.1, on SQLite in a temporary LUCINE_DATA_DIR or ``database_url``.

    Waits until GET /api/health answers 200 (30 s at most), creates the first admin, and
    stops the process on exit. A port taken between choosing and binding is retried.
    With ``admin_first`` the admin is created before the server ever ran, on the fresh
    data directory (the README's set-up for a service).
    """
    with tempfile.TemporaryDirectory(prefix="lucine-serve-") as folder:
        data_dir = Path(folder) / "data"
        environment = _environment(data_dir, database_url, env or {})
        if admin_first:
            create_admin(environment)
        server = None
        for attempt in range(1, attempts + 1):
            port = free_port()
            log = Path(folder) / f"serve-{attempt}.log"
            args = ["serve", "--host", "127.0.0.1", "--port", str(port)]
            if not migrate:
                args.append("--no-migrate")
            if workers > 1:
                args += ["--workers", str(workers)]
            if not jobs:
                args.append("--no-jobs")
            with log.open("wb") as sink:
                process = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
                    lucine_command(*args),
                    env=environment,
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                )
            server = RunningServer(
                url=f"http://127.0.0.1:{port}",
                process=process,
                data_dir=data_dir,
                log=log,
                env=environment,
            )
            try:
                _wait_until_healthy(server, STARTUP_TIMEOUT)
                break
            except RuntimeError:
                server.stop()
                if attempt == attempts or "address already in use" not in server.output():
                    raise
            except BaseException:
                server.stop()
                raise
        assert server is not None
        try:
            if admin and not admin_first:
                create_admin(environment)
            yield server
        finally:
            server.stop()


@contextmanager
def lucine_server(*, database_url: str | None = None, migrate: bool = True) -> Iterator[str]:
    """The base URL of a running `lucine serve` with an admin account (see serve_process)."""
    with serve_process(database_url=database_url, migrate=migrate) as server:
        yield server.url


def server_sent_events(response: httpx.Response) -> Iterator[tuple[str, dict[str, object]]]:
    """(event, data) of each event on a text/event-stream response; keep-alives skipped."""
    kind = ""
    for line in response.iter_lines():
        if line.startswith("event:"):
            kind = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and line[5:].strip():  # keep-alives carry no data
            yield kind, json.loads(line.split(":", 1)[1])
