"""A throwaway Postgres cluster of a test's own, to stop and start while Lucine runs.

The shared test server on 5432 must never be stopped; fault tests start their own
(`initdb` in a temporary folder, a free 127.0.0.1 port, fsync off), run as the
``postgres`` OS user when the tests run as root. Each pytest-xdist worker gets its own.
Without the PostgreSQL server binaries the tests skip with one line; under CI=true they
fail instead.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.http_server import child_pids, free_port

__all__ = ["PostgresCluster", "pg_cluster"]


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


class PostgresCluster:
    """One cluster: ``start()``, ``stop()``, and the SQLAlchemy ``url`` of its database."""

    def __init__(self, bindir: Path, folder: Path, port: int) -> None:
        self.bindir = bindir
        self.data = folder / "data"
        self.log = folder / "postgres.log"
        self.port = port
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
        self._as_postgres = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)  # noqa: S603
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {done.stderr.strip() or done.stdout.strip()}")

    def init(self) -> None:
        """Create the cluster: trust auth on 127.0.0.1, user postgres."""
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8")

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        # fsync off is safe here: a stop kills the server, not the machine, so what reached
        # the OS survives. synchronous_commit stays on: off, a commit is acknowledged before
        # its WAL is written, and an immediate stop loses it (as it would in production).
        options = (
            f"-c port={self.port} -c listen_addresses=127.0.0.1 -c fsync=off"
            f" -c full_page_writes=off -c unix_socket_directories={self.data.parent}"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self) -> None:
        """Stop at once (clients are cut off, as in a crash or a failover)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def _processes(self) -> list[int]:
        """The postmaster and every backend, checkpointer and walwriter it started."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        return [postmaster, *child_pids(postmaster)]

    def freeze(self) -> None:
        """SIGSTOP every process of the cluster: connections stay open, nothing answers.

        What a hung host, a VM paused for migration or a disk that stopped responding looks
        like from the client: TCP is fine, queries never return.
        """
        for pid in self._processes():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        """SIGCONT what ``freeze`` stopped."""
        for pid in self._processes():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)

    def running(self) -> bool:
        """Whether the server process is up."""
        return (self.data / "postmaster.pid").exists()


@pytest.fixture
def pg_cluster() -> Iterator[PostgresCluster]:
    """A started cluster of this test's own, stopped and removed afterwards."""
    bindir = _binaries()
    if bindir is None:
        reason = (
            "no PostgreSQL server binaries under /usr/lib/postgresql (apt-get install postgresql)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)
    folder = Path(tempfile.mkdtemp(prefix="lucine-pg-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    cluster = PostgresCluster(bindir, folder, free_port())
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        if cluster.running():
            with contextlib.suppress(RuntimeError):
                cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)
