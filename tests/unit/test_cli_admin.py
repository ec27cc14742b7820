"""`lucine --version`, shell completion, `lucine demo` and `lucine db downgrade`."""

from __future__ import annotations

import asyncio
import json
from importlib.metadata import version
from pathlib import Path

import pytest

from lucine_adapters.sql import migrate
from lucine_cli.common import load_settings
from lucine_cli.demo import DEMO_ACCOUNTS
from lucine_core.operators import Operator
from lucine_core.services import Services
from lucine_core.services.knowledge import list_kb_items
from lucine_core.services.operators import list_operators, login
from tests.cli import cli_database, invoke, on_database, snapshot

__all__ = ["cli_database"]


def test_version_is_the_installed_packages() -> None:
    """`lucine --version` prints the installed distribution's version and touches nothing."""
    result = invoke("--version")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"lucine {version('lucine')}\n"


def test_completion_script_for_bash() -> None:
    """`lucine --show-completion bash` prints a script that completes `lucine`'s commands."""
    result = invoke("--show-completion", "bash")
    assert result.exit_code == 0, result.output
    assert "complete" in result.stdout
    assert "_LUCINE_COMPLETE" in result.stdout


def test_demo_fills_a_fresh_database_with_accounts_that_sign_in(cli_database: str) -> None:
    """The sample FAQ and three accounts; each printed password signs in, once shown."""
    result = invoke("demo", "--json")
    assert result.exit_code == 0, result.output
    made = json.loads(result.stdout)
    accounts = {a["username"]: a for a in made["accounts"]}
    assert set(accounts) == {username for username, _, _ in DEMO_ACCOUNTS}
    assert accounts["admin"]["role"] == "admin"
    assert len({a["password"] for a in accounts.values()}) == len(accounts)
    assert made["kbItems"] == len(on_database(list_kb_items))
    for username in accounts:

        async def sign_in(services: Services, name: str = username) -> Operator:
            return await login(services, username=name, password=accounts[name]["password"])

        assert on_database(sign_in).username == username
    # The passwords are kept only as hashes.
    rows = snapshot()
    assert all(a["password"] not in repr(rows) for a in accounts.values())


def test_demo_refuses_a_database_in_use(cli_database: str) -> None:
    """A database that already has accounts is left alone: exit 2, one line, no change."""
    first = invoke("demo")
    assert first.exit_code == 0, first.output
    assert "admin" in first.stdout
    before = snapshot()
    again = invoke("demo")
    assert again.exit_code == 2
    assert again.stderr.startswith("error: the database already has 3 accounts")
    assert again.stderr.count("\n") == 1
    assert snapshot() == before
    assert len(on_database(list_operators)) == len(DEMO_ACCOUNTS)


def _revision() -> str | None:
    return asyncio.run(migrate.current(load_settings().resolved_database_url))


def test_downgrade_asks_and_a_no_changes_nothing(cli_database: str) -> None:
    """Without --yes the question comes first; "n" (or no answer) leaves the schema as it is."""
    assert invoke("db", "upgrade").exit_code == 0
    for answer in ("n\n", ""):
        result = invoke("db", "downgrade", "previous", input=answer)
        assert result.exit_code == 1
        assert "Downgrade the database" in result.stderr
        assert result.stderr.rstrip().endswith("error: not downgraded")
        assert _revision() == migrate.head()


def test_downgrade_one_step_and_back(cli_database: str) -> None:
    """`db downgrade previous --yes` goes one revision back; `db upgrade` returns to head."""
    assert invoke("db", "upgrade").exit_code == 0
    try:
        result = invoke("db", "downgrade", "previous", "--yes")
        assert result.exit_code == 0, result.output
        assert "behind head" in result.stdout
        assert _revision() != migrate.head()
        assert migrate.is_known(_revision() or "")
    finally:
        # Postgres is the run's shared database: put it back whatever happened.
        assert invoke("db", "upgrade").exit_code == 0
    assert _revision() == migrate.head()


@pytest.mark.parametrize(
    ("target", "needle"), [("0099", "0099"), ("base-ish", "base-ish")], ids=["unknown", "garbage"]
)
def test_downgrade_to_an_unknown_revision_is_exit_2(
    cli_database: str, target: str, needle: str
) -> None:
    """An unknown target is one line naming it, and the schema stays at head."""
    assert invoke("db", "upgrade").exit_code == 0
    result = invoke("db", "downgrade", target, "--yes")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error:")
    assert needle in result.stderr
    assert result.stderr.count("\n") == 1
    assert _revision() == migrate.head()


def test_downgrade_of_an_empty_database_is_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing to take back on a database without a schema: one line, nothing created."""
    monkeypatch.setenv("LUCINE_DATA_DIR", str(tmp_path / "fresh"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    result = invoke("db", "downgrade", "previous", "--yes")
    assert result.exit_code == 2
    assert "nothing to downgrade" in result.stderr
    assert _revision() is None


@pytest.mark.parametrize(
    "argv",
    [
        ["operator", "list"],
        ["operator", "disable", "anna"],
        ["kb", "export"],
        ["kb", "list"],
        ["kb", "gaps"],
        ["chats", "list"],
        ["chats", "show", "abc"],
        ["tickets", "list"],
        ["stats"],
        ["events"],
        ["audit"],
        ["gdpr", "export", "--session", "abc"],
        ["gdpr", "purge"],
    ],
    ids=lambda argv: "-".join(argv[:2]),
)
def test_commands_on_a_fresh_data_directory_create_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> None:
    """Where no database exists yet, reading (or acting on what exists) says so and makes none."""
    monkeypatch.setenv("LUCINE_DATA_DIR", str(tmp_path / "fresh"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("LUCINE_SECRET_KEY", raising=False)
    result = invoke(*argv)
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1
    assert "does not exist yet" in result.stderr
    assert not (tmp_path / "fresh").exists()
