#!/usr/bin/env python3
"""Set up and run Lucine with nothing but Python 3.11+: no manual venv or pip step.

    python3 dev.py start        run Lucine on its embedded default (SQLite, offline answers)
    python3 dev.py test         run the whole test suite
    python3 dev.py nox ARGS     run any nox session (lint, typecheck, layers, ...)
    python3 dev.py lucine ARGS  run the lucine command itself

The first call makes .venv/ beside this file and installs Lucine into it (editable),
again only when pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".lucine-installed"
MIN_PYTHON = (3, 11)


def _bin(name: str) -> Path:
    folder = "Scripts" if os.name == "nt" else "bin"
    suffix = ".exe" if os.name == "nt" else ""
    return VENV / folder / f"{name}{suffix}"


def ensure_venv() -> None:
    """Create .venv and install the project with its dev tools when needed."""
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted and _bin("python").exists():
        return
    if not _bin("python").exists():
        print("dev.py: creating .venv ...", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("dev.py: installing Lucine and its tools into .venv ...", file=sys.stderr)
    pip = [str(_bin("python")), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "install", "-e", f"{ROOT}[dev]"], check=True)
    STAMP.write_text(wanted)


def main(argv: list[str]) -> int:
    """Dispatch a dev.py command; returns the exit code."""
    if sys.version_info < MIN_PYTHON:
        print("dev.py: Lucine needs Python 3.11 or newer", file=sys.stderr)
        return 2
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(__doc__)
        return 0
    command, rest = argv[0], argv[1:]
    # nox runs its sessions on .venv, where everything is installed already: once per run.
    nox = [str(_bin("nox")), "--no-venv", "--no-install"]
    commands = {
        "start": [str(_bin("lucine")), "serve", *rest],
        "test": [*nox, "-s", "tests", "--", *rest],
        "nox": [*nox, *rest],
        "lucine": [str(_bin("lucine")), *rest],
    }
    if command not in commands:
        print(f"dev.py: unknown command {command!r} (start, test, nox, lucine)", file=sys.stderr)
        return 2
    ensure_venv()
    env = {**os.environ, "PATH": os.pathsep.join([str(_bin("python").parent), os.environ["PATH"]])}
    return subprocess.call(commands[command], cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
