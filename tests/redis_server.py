"""A redis-server of a test's own, to stop and start while Lucine uses it.

Without redis-server the tests skip with one line; under CI=true they fail instead.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from tests.http_server import free_port

__all__ = ["own_redis"]


@contextmanager
def own_redis() -> Iterator[tuple[int, Callable[[], None], Callable[[], None]]]:
    """A redis-server of this test's own on a free port, with start() and stop()."""
    binary = shutil.which("redis-server")
    if binary is None:
        reason = "no redis-server on PATH (apt-get install redis-server)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)
    port = free_port()
    running: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        running.append(subprocess.Popen(command, stdout=subprocess.DEVNULL))  # noqa: S603
        with socket.socket() as probe:
            for _ in range(100):
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    return
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop() -> None:
        while running:
            process = running.pop()
            process.kill()
            process.wait(10)

    try:
        yield port, start, stop
    finally:
        stop()
