"""The `lucine` command, through Typer's CliRunner."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lucine_cli.main import app
from tests.cli import cli_database, snapshot

__all__ = ["cli_database"]

runner = CliRunner()


def test_ask_answers_from_the_sample_kb_naming_the_source() -> None:
    """`lucine ask "a che ora aprite?"` prints the opening hours and the source id."""
    result = runner.invoke(app, ["ask", "a che ora aprite?"])
    assert result.exit_code == 0, result.output
    assert "17:30" in result.output
    assert "orari" in result.output


def test_ask_json_offers_the_two_smart_actions() -> None:
    """`lucine ask --json "voglio parlare con una persona"` returns both smart actions."""
    result = runner.invoke(app, ["ask", "--json", "voglio parlare con una persona"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) == {"reply", "sources", "smartActions", "confidence", "language"}
    assert [a["action"] for a in data["smartActions"]] == ["request_operator", "continue_ai"]
    assert data["language"] == "it"


def test_ask_reads_one_question_per_line_from_stdin() -> None:
    """Without an argument each stdin line gets one JSON line back, in order."""
    result = runner.invoke(app, ["ask", "--json"], input="parcheggio?\n\nhow much is a ticket?\n")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["sources"] for line in lines] == [["parcheggio"], ["en-prices"]]


def test_ask_with_own_kb_file(tmp_path: Path) -> None:
    """`--kb FILE` answers from that file instead of the sample."""
    kb = tmp_path / "kb.json"
    kb.write_text(
        json.dumps([{"id": "wifi", "question": "C'è il wifi?", "answer": "Sì, rete Ospiti."}])
    )
    result = runner.invoke(app, ["ask", "--json", "--kb", str(kb), "avete il wifi?"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["sources"] == ["wifi"]


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ('[{"id": "a", "question": "q"}]', "answer"),
        ("[{", "line"),
        (
            '[{"id": "a", "question": "q", "answer": "x"},'
            ' {"id": "a", "question": "q2", "answer": "y"}]',
            "a",
        ),
    ],
)
def test_bad_kb_file_is_one_line_and_exit_2(tmp_path: Path, content: str, needle: str) -> None:
    """A broken KB file exits with code 2 and a single error line naming the problem."""
    kb = tmp_path / "kb.json"
    kb.write_text(content)
    result = runner.invoke(app, ["ask", "--kb", str(kb), "ciao"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1
    assert lines[0].startswith("error:")
    assert needle in lines[0]


def test_missing_kb_file_exits_2(tmp_path: Path) -> None:
    """A KB path that does not exist is a clear one-line error, not a traceback."""
    result = runner.invoke(app, ["ask", "--kb", str(tmp_path / "nope.json"), "ciao"])
    assert result.exit_code == 2
    assert result.output.startswith("error:")


def test_too_long_question_is_refused() -> None:
    """A question over 2,000 characters exits 2 with the field named."""
    result = runner.invoke(app, ["ask", "x" * 2001])
    assert result.exit_code == 2
    assert "message" in result.output


def test_chat_holds_a_short_conversation() -> None:
    """`lucine chat` answers, offers the buttons, and pressing 2 continues with the assistant."""
    result = runner.invoke(
        app, ["chat"], input="a che ora aprite?\nvoglio un operatore\n2\n/esci\n"
    )
    assert result.exit_code == 0, result.output
    assert "17:30" in result.output
    assert "[1] SÌ, CHIAMA OPERATORE" in result.output
    assert "continuiamo" in result.output


def test_kb_export_and_import_round_trip_through_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`kb export` and `kb import` work on the database's knowledge base.

    Export prints the seeded sample; import replaces it all; a bad file exits 2 with one
    line and changes nothing.
    """
    monkeypatch.setenv("LUCINE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    exported = runner.invoke(app, ["kb", "export"])
    assert exported.exit_code == 0, exported.output
    assert len(json.loads(exported.output)) == 52
    mine = tmp_path / "mine.json"
    mine.write_text(
        json.dumps([{"id": "wifi", "question": "C'è il wifi?", "answer": "Sì, rete Ospiti."}])
    )
    imported = runner.invoke(app, ["kb", "import", str(mine), "--yes"])
    assert imported.exit_code == 0, imported.output
    assert "imported 1 items" in imported.output
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"id": "x", "question": "Q?"}]))
    refused = runner.invoke(app, ["kb", "import", str(bad)])
    assert refused.exit_code == 2
    assert len(refused.output.strip().splitlines()) == 1
    assert "missing answer" in refused.output
    out = tmp_path / "out.json"
    assert runner.invoke(app, ["kb", "export", str(out)]).exit_code == 0
    assert [item["id"] for item in json.loads(out.read_text())] == ["wifi"]


def test_operator_create_on_a_fresh_data_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`operator create --password-stdin` works where nothing has made the database yet.

    It creates the schema first, as `serve` does; a second account of the same name is
    refused in one line with exit code 2.
    """
    monkeypatch.setenv("LUCINE_DATA_DIR", str(tmp_path / "fresh"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    argv = ["operator", "create", "--admin", "--username", "admin", "--password-stdin"]
    created = runner.invoke(app, argv, input="a long enough passphrase\n")
    assert created.exit_code == 0, created.output
    assert "created admin admin" in created.output
    again = runner.invoke(app, argv, input="a long enough passphrase\n")
    assert again.exit_code == 2
    assert len(again.output.strip().splitlines()) == 1


def test_serve_without_migrating_a_fresh_database_names_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`serve --no-migrate` on a database without the schema says, in one line, what to run."""
    monkeypatch.setenv("LUCINE_DATA_DIR", str(tmp_path / "fresh"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    refused = runner.invoke(app, ["serve", "--no-migrate"])
    assert refused.exit_code == 2
    assert refused.output.strip().splitlines() == [
        "error: the database schema is not current: run `lucine db upgrade` (or drop --no-migrate)"
    ]


def test_worker_once_on_a_fresh_data_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`worker --once` makes the schema, runs the jobs once and says so; bad options exit 2."""
    monkeypatch.setenv("LUCINE_DATA_DIR", str(tmp_path / "fresh"))
    monkeypatch.setenv("LUCINE_EMBEDDINGS", "off")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    done = runner.invoke(app, ["worker", "--once"])
    assert done.exit_code == 0, done.output
    assert "stopped after 1 run" in done.output
    assert (tmp_path / "fresh" / "lucine.sqlite3").exists()
    refused = runner.invoke(app, ["worker", "--interval", "0"])
    assert refused.exit_code == 2
    assert "interval" in refused.output


def test_serve_refuses_several_workers_on_sqlite_without_redis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workers on SQLite would each keep their own realtime notices: refused, in one line."""
    monkeypatch.setenv("LUCINE_DATA_DIR", str(tmp_path / "fresh"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    refused = runner.invoke(app, ["serve", "--workers", "2"])
    assert refused.exit_code == 2
    assert "needs Postgres" in refused.output
    assert len(refused.output.strip().splitlines()) == 1
    assert not (tmp_path / "fresh").exists(), "nothing was created"


def _accounts() -> dict[str, dict[str, object]]:
    listed = runner.invoke(app, ["operator", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    return {a["username"]: a for a in json.loads(listed.output)}


def test_operator_accounts_are_managed_from_the_command_line(cli_database: str) -> None:
    """list, disable, enable, set-capacity, set-role and reset-password, on both databases.

    Bad input (an unknown account, a capacity out of range, an unknown role) is refused
    in one line with exit code 2 and changes nothing.
    """
    for name in ("admin", "anna"):
        argv = ["operator", "create", "--username", name, "--password-stdin"]
        argv += ["--admin"] if name == "admin" else []
        made = runner.invoke(app, argv, input="a long enough passphrase\n")
        assert made.exit_code == 0, made.output
    assert _accounts()["anna"]["role"] == "operator"
    table = runner.invoke(app, ["operator", "list"])
    assert table.exit_code == 0
    assert "anna" in table.output
    assert "admin" in table.output
    steps = [
        (["disable", "anna"], "disabled anna", {"disabled": True}),
        (["enable", "anna"], "enabled anna", {"disabled": False}),
        (["set-capacity", "anna", "7"], "capacity 7 for anna", {"capacity": 7}),
        (["set-role", "anna", "admin"], "role admin for anna", {"role": "admin"}),
    ]
    for argv, said, expected in steps:
        done = runner.invoke(app, ["operator", *argv])
        assert done.exit_code == 0, done.output
        assert done.output.strip() == said
        anna = _accounts()["anna"]
        assert {key: anna[key] for key in expected} == expected
    reset = runner.invoke(
        app,
        ["operator", "reset-password", "anna", "--password-stdin"],
        input="another passphrase\n",
    )
    assert reset.exit_code == 0, reset.output
    before, rows = _accounts(), snapshot()
    for argv in (
        ["disable", "nobody"],
        ["set-capacity", "anna", "0"],
        ["reset-password", "anna", "--password-stdin"],
    ):
        refused = runner.invoke(app, ["operator", *argv], input="short\n")
        assert refused.exit_code == 2, (argv, refused.output)
        assert refused.output.strip().count("\n") == 0, refused.output
        assert refused.output.startswith("error: "), refused.output
    unknown_role = runner.invoke(app, ["operator", "set-role", "anna", "owner"])
    assert unknown_role.exit_code == 2
    assert _accounts() == before
    assert snapshot() == rows


def test_a_database_that_does_not_answer_is_exit_1_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The operation could not be done now (exit 1), unlike a bad argument (exit 2)."""
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("LUCINE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DATABASE_URL", f"postgresql+psycopg://lucine@127.0.0.1:{port}/lucine")
    down = runner.invoke(app, ["operator", "list"])
    assert down.exit_code == 1, down.output
    assert down.output.strip().count("\n") == 0, down.output
    assert down.output.startswith("error: "), down.output
    bad = runner.invoke(app, ["operator", "set-capacity", "anna", "many"])
    assert bad.exit_code == 2  # bad usage, told before any connection is tried
