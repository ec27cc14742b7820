"""The deployment files hold up: Dockerfile, compose.yaml and render.yaml.

No container engine runs on the machines CI uses, so the files are checked the way each
platform would read them: every command line is parsed by our own CLI (an unknown
command or option fails here, not at 3 a.m.), every environment is read by our own
settings, every health path is a route of the app, and the wheel that `pip install .`
builds holds every file the package needs.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from typer._click.exceptions import UsageError  # Typer ships its own click

from lucine_adapters.bootstrap import bootstrap_in_memory
from lucine_adapters.settings import Settings
from lucine_cli.main import app
from lucine_http.app import create_app
from lucine_http.config import HttpConfig

ROOT = Path(__file__).resolve().parents[2]
KEY = "k" * 48


def parse_cli(argv: list[str]) -> None:
    """Parse `lucine ...` as the CLI would, without running it; raises UsageError."""
    assert argv[0] == "lucine", argv
    command: Any = typer.main.get_command(app)
    context = command.make_context("lucine", argv[1:])
    while hasattr(command, "resolve_command"):  # a group: find and parse its subcommand
        rest = [*context._protected_args, *context.args]
        name, command, args = command.resolve_command(context, rest)
        context = command.make_context(name or "", args, parent=context)


def routes() -> set[str]:
    """Every path the app serves."""
    return {route.path for route in create_app(bootstrap_in_memory()).routes}


def substitute(value: str) -> str:
    """Compose's ${VAR:?message} and ${VAR:-default}, as if the owner set every variable."""

    def one(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(3)
        if default is not None and match.group(2) == ":-":
            return default
        return {"POSTGRES_PASSWORD": "pw", "LUCINE_SECRET_KEY": KEY}.get(name, "")

    return re.sub(r"\$\{(\w+)(?:(:[?-])([^}]*))?\}", one, value)


def test_parse_cli_refuses_what_the_cli_refuses() -> None:
    """The checker itself: a made-up option or command is a usage error."""
    parse_cli(["lucine", "serve", "--port", "8000"])
    with pytest.raises(UsageError):
        parse_cli(["lucine", "serve", "--made-up"])
    with pytest.raises(UsageError):
        parse_cli(["lucine", "made-up"])


def test_dockerfile() -> None:
    """Its CMD is a real command, its health check a real route, what it copies exists."""
    text = (ROOT / "Dockerfile").read_text()
    commands = [line for line in text.splitlines() if line.startswith("CMD ")]
    assert len(commands) == 1
    parse_cli(yaml.safe_load(commands[0].removeprefix("CMD ")))
    assert re.search(r"127\.0\.0\.1:8000(/api/health/live)", text)
    assert "/api/health/live" in routes()
    for line in text.splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored
    assert ".git" in ignored


def test_compose_file() -> None:
    """Postgres healthy first; both Lucine services' commands and settings hold together."""
    compose: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    postgres = services["postgres"]["environment"]
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]
    for name in ("lucine", "worker"):
        service = services[name]
        assert service["build"] == "."
        parse_cli(service["command"])
        env = {k: substitute(str(v)) for k, v in service["environment"].items()}
        settings = Settings.from_env(env)
        url = settings.resolved_database_url
        assert url.startswith("postgresql+psycopg://"), url
        assert f"{postgres['POSTGRES_USER']}:" in url
        assert url.endswith(f"@postgres:5432/{postgres['POSTGRES_DB']}"), url
        HttpConfig.from_env(env)
    assert services["lucine"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "--no-jobs" in services["lucine"]["command"]
    assert services["worker"]["command"][:2] == ["lucine", "worker"]


def test_render_blueprint() -> None:
    """Its commands are real, its health path a route, its variables ones Lucine reads."""
    blueprint: dict[str, Any] = yaml.safe_load((ROOT / "render.yaml").read_text())
    read = (ROOT / "src/lucine_adapters/settings.py").read_text() + (
        ROOT / "src/lucine_http/config.py"
    ).read_text()
    database = blueprint["databases"][0]["name"]
    kinds = set()
    for service in blueprint["services"]:
        kinds.add(service["type"])
        assert service["buildCommand"] == "pip install ."
        for key in ("preDeployCommand", "startCommand"):
            if key in service:
                parse_cli(shlex.split(service[key].replace("$PORT", "10000")))
        if "healthCheckPath" in service:
            assert service["healthCheckPath"] in routes()
        for var in service["envVars"]:
            if var["key"] == "PYTHON_VERSION":
                assert tuple(map(int, var["value"].split("."))) >= (3, 11)
                continue
            assert f'"{var["key"]}"' in read, var["key"]
            if "fromDatabase" in var:
                assert var["fromDatabase"]["name"] == database
    assert kinds == {"web", "worker"}


def test_the_wheel_holds_every_file_of_the_packages(tmp_path: Path) -> None:
    """`pip install .` (the Dockerfile, Render) gets the static pages, migrations and data."""
    subprocess.run(  # noqa: S603 - pip on our own project
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("lucine-*.whl")
    inside = set(zipfile.ZipFile(wheel).namelist())
    tracked = subprocess.run(  # noqa: S603 - git on our own repository
        ["git", "-C", str(ROOT), "ls-files", "src"],  # noqa: S607
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    wanted = {path.removeprefix("src/") for path in tracked}
    assert wanted - inside == set()
