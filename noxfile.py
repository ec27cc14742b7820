"""Lucine's automation: `nox -s tests lint typecheck layers` (what CI runs).

`python3 dev.py nox ...` runs these sessions on the one .venv dev.py installs (nox
--no-venv --no-install): the project is installed once, not once per session. Plain
`nox` still gives each session a virtualenv of its own.
"""

from __future__ import annotations

import os

import nox

nox.options.sessions = ["tests", "lint", "typecheck", "layers"]
nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = True

PYTHON = os.environ.get("LUCINE_NOX_PYTHON", "3.11")
SOURCES = ["src", "tests", "noxfile.py", "dev.py", "bench"]


def _pytest(session: nox.Session, profile: str) -> None:
    """The whole suite: unit and contract tests, then the browser tests, each group parallel."""
    # Playwright's sync API keeps an event loop running in the main thread while its
    # browser lives, which the asyncio tests cannot share: browsers get their own process.
    # One worker per core (pytest-xdist); each has its own Postgres database, and each
    # browser worker its own server and Chromium.
    hypothesis = f"--hypothesis-profile={profile}"
    session.run("pytest", hypothesis, "-m", "not browser", "-n", "auto", "--durations=10")
    session.run("pytest", "-m", "browser", "tests/browser", "-n", "2", "--durations=10")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Unit and contract tests on every adapter available here, then the browser tests."""
    session.install("-e", ".[test]")
    profile = "ci" if os.environ.get("CI") == "true" else "dev"
    if session.posargs:
        session.run("pytest", f"--hypothesis-profile={profile}", *session.posargs)
        return
    _pytest(session, profile)


@nox.session(python=PYTHON, default=False)
def stress(session: nox.Session) -> None:
    """The suite with its long repetitions at full length (nightly): races, schemathesis,
    Hypothesis (tests/lengths.py says how long)."""
    session.install("-e", ".[test]")
    session.env["LUCINE_STRESS"] = "1"
    if session.posargs:
        session.run("pytest", "--hypothesis-profile=stress", *session.posargs)
        return
    _pytest(session, "stress")


@nox.session(python=PYTHON)
def browser(session: nox.Session) -> None:
    """Only the tests in a real Chromium (widget and dashboard)."""
    session.install("-e", ".[test]")
    session.run("pytest", "-m", "browser", "tests/browser", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff>=0.8")
    session.run("ruff", "check", *SOURCES)
    session.run("ruff", "format", "--check", *SOURCES)


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict on src."""
    session.install("-e", ".[test]", "mypy>=1.13")
    session.run("mypy")


@nox.session(python=PYTHON)
def layers(session: nox.Session) -> None:
    """import-linter: the core imports only the standard library and attrs."""
    session.install("-e", ".", "import-linter>=2.1")
    session.run("lint-imports")


@nox.session(python=PYTHON, default=False)
def bench(session: nox.Session) -> None:
    """Benchmarks under bench/ (not run by default or in CI); about 25 minutes on 2 cores.

    Starts Postgres and installs wrk when missing (as .ci/run does); every script writes
    its figures under bench/results/, and summary.py prints them in one table against
    the targets and v2.7. ``nox -s bench -- --quick`` is a five-minute look (short load
    runs, 100 realtime messages, 5,000 chats of growth); it overwrites bench/results/
    too (``git checkout bench/results`` brings back the published figures).
    """
    quick = "--quick" in session.posargs
    session.run("bash", ".ci/ensure", "postgres", "wrk", external=True)
    session.install("-e", ".")
    session.run("python", "bench/answer_latency.py")
    session.run("python", "bench/retrieval.py")
    # Over real HTTP with wrk: chat, poll and the trivial endpoint; SQLite 1 worker,
    # Postgres 1 and 2; with the encoder, then without it (load-no-encoder.*).
    duration = ["--duration", "5" if quick else "30"]
    session.run("python", "bench/load.py", *duration)
    session.run("python", "bench/load.py", *duration, "--only", "postgres", "--embeddings", "off")
    session.run("python", "bench/realtime.py", "--messages", "100" if quick else "500")
    growth = ["--sessions", "5000", "--repeat", "20"] if quick else ["--sessions", "100000"]
    session.run("python", "bench/growth.py", *growth)
    session.run("python", "bench/summary.py")
