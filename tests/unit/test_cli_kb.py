"""`lucine kb import [--dry-run] [--yes]`, `kb list` and `kb test`, on SQLite and Postgres."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import pytest
from typer.testing import Result

from lucine_core.enums import AuditAction, Language
from lucine_core.kb import KnowledgeBaseItem
from lucine_core.services import Services
from lucine_core.services.knowledge import ChangedItem, compare_kb, import_kb
from tests.cli import cli_database, invoke, on_database, snapshot

__all__ = ["cli_database"]

STORED = [
    KnowledgeBaseItem(id="orari", question="A che ora aprite?", answer="Dalle 17:30."),
    KnowledgeBaseItem(
        id="cani", question="Posso portare il cane?", answer="Sì.", keywords=("cane", "dog")
    ),
    KnowledgeBaseItem(id="bagni", question="Ci sono i bagni?", answer="Sì, due."),
    KnowledgeBaseItem(id="meteo", question="E se piove?", answer="Si apre."),
]

# orari is unchanged, cani changes answer and language, meteo goes, bagni is renamed to
# toilette, wifi and wifi-bis are new and ask the same question.
INCOMING: list[dict[str, Any]] = [
    {"id": "orari", "question": "A che ora aprite?", "answer": "Dalle 17:30."},
    {
        "id": "cani",
        "question": "Posso portare il cane?",
        "answer": "Sì, al guinzaglio.",
        "keywords": ["cane", "dog"],
        "language": "en",
    },
    {"id": "toilette", "question": "ci sono i BAGNI", "answer": "Sì, due."},
    {"id": "wifi", "question": "C'è il wifi?", "answer": "Sì."},
    {"id": "wifi-bis", "question": "C'è il Wi-Fi?", "answer": "No."},
    {"id": "wifi-ter", "question": "c'è il wifi!", "answer": "Forse."},
]


def _arrange(items: list[KnowledgeBaseItem] = STORED) -> None:
    on_database(lambda services: import_kb(services, actor_id=None, items=items))


def _file(tmp_path: Path, records: list[dict[str, Any]], name: str = "kb.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return path


def _stored_ids() -> list[str]:
    async def read(services: Services) -> list[str]:
        return [item.id for item in await services.kb.list_items()]

    return on_database(read)


def _refused(result: Result, code: int, words: str) -> None:
    assert result.exit_code == code, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert words in result.stderr


def test_compare_kb_finds_new_changed_removed_and_conflicts() -> None:
    """The pure diff names every kind of change, and nothing for an identical file."""
    incoming = [
        KnowledgeBaseItem(
            id=r["id"],
            question=r["question"],
            answer=r["answer"],
            keywords=tuple(r.get("keywords", ())),
            language=Language(r.get("language", "it")),
        )
        for r in INCOMING
    ]
    changes = compare_kb(STORED, incoming)
    assert changes.new == ("toilette", "wifi", "wifi-bis", "wifi-ter")
    assert changes.changed == (ChangedItem(id="cani", fields=("answer", "language")),)
    assert changes.removed == ("bagni", "meteo")
    assert changes.unchanged == 1
    assert changes.same_question == (("wifi", "wifi-bis", "wifi-ter"),)
    assert changes.renamed == (("bagni", "toilette"),)
    assert changes.replaces_stored
    same = compare_kb(STORED, list(reversed(STORED)))
    assert (same.new, same.changed, same.removed, same.unchanged) == ((), (), (), 4)
    assert not same.replaces_stored
    # The same question in another language is another item, not a conflict.
    german = attrs.evolve(STORED[1], id="hunde", language=Language.DE)
    assert compare_kb([], [STORED[1], german]).same_question == ()


def test_dry_run_reports_every_change_and_changes_nothing(
    cli_database: str, tmp_path: Path
) -> None:
    """--dry-run prints new, changed (with fields), removed and conflicts; no row moves."""
    _arrange()
    before = snapshot()
    result = invoke("kb", "import", str(_file(tmp_path, INCOMING)), "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert result.stdout.splitlines() == [
        f"would import 6 items from {tmp_path / 'kb.json'}: 4 new, 1 changed, 2 removed, "
        "1 unchanged (nothing changed)",
        "new:",
        "  toilette",
        "  wifi",
        "  wifi-bis",
        "  wifi-ter",
        "changed:",
        "  cani (answer, language)",
        "removed:",
        "  bagni",
        "  meteo",
        "conflicts:",
        '  same question: wifi, wifi-bis, wifi-ter ("C\'è il wifi?")',
        "  renamed? bagni -> toilette (same question; what links to bagni breaks)",
    ]
    assert snapshot() == before


def test_import_asks_first_and_declining_changes_nothing(cli_database: str, tmp_path: Path) -> None:
    """Replacing stored items asks [y/N]; "n", a bare Enter or no terminal leave all as was."""
    _arrange()
    before = snapshot()
    path = _file(tmp_path, INCOMING)
    for answer in ("n\n", "\n", None):
        result = invoke("kb", "import", str(path), input=answer)
        assert result.exit_code == 1, result.output
        assert "Replace the 4 stored items with the 6 of kb.json" in result.stderr
        assert "(1 changed, 2 removed, 4 new)? [y/N]" in result.stderr
        assert result.stderr.rstrip().endswith("error: not imported")
        assert "imported" not in result.stdout
        assert snapshot() == before


def test_import_with_yes_replaces_everything_and_says_what_changed(
    cli_database: str, tmp_path: Path
) -> None:
    """--yes imports without asking, prints the counts, warns of conflicts, audits changes."""
    _arrange()
    path = _file(tmp_path, INCOMING)
    result = invoke("kb", "import", str(path), "--yes")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"imported 6 items from {path}: 4 new, 1 changed, 2 removed, 1 unchanged\n"
    )
    assert result.stderr.splitlines() == [
        'warning: same question: wifi, wifi-bis, wifi-ter ("C\'è il wifi?")',
        "warning: renamed? bagni -> toilette (same question; what links to bagni breaks)",
    ]
    assert _stored_ids() == sorted(r["id"] for r in INCOMING)

    async def trail(services: Services) -> dict[str, list[tuple[str, str]]]:
        async with services.uow() as uow:
            entries = await uow.audit.list(limit=100)
        found: dict[str, list[tuple[str, str]]] = {}
        for entry in entries:
            found.setdefault(entry.subject, []).append((entry.action, entry.actor))
        return found

    audited = on_database(trail)
    # The arranging import created the four stored items; this one did the rest.
    assert audited["cani"][0] == (AuditAction.UPDATE_KB_ITEM, "system")
    assert audited["meteo"][0] == (AuditAction.DELETE_KB_ITEM, "system")
    assert audited["wifi"] == [(AuditAction.CREATE_KB_ITEM, "system")]
    assert len(audited["orari"]) == 1  # unchanged: only its creation


def test_answering_yes_imports(cli_database: str, tmp_path: Path) -> None:
    """Typing y at the question imports the file."""
    _arrange()
    result = invoke("kb", "import", str(_file(tmp_path, INCOMING[:1])), input="y\n")
    assert result.exit_code == 0, result.output
    assert "imported 1 items" in result.stdout
    assert "0 new, 0 changed, 3 removed, 1 unchanged" in result.stdout
    assert _stored_ids() == ["orari"]


def test_import_that_only_adds_or_meets_an_empty_kb_does_not_ask(
    cli_database: str, tmp_path: Path
) -> None:
    """Nothing stored would change or go, so there is nothing to ask about."""
    _arrange()
    records = [*({"id": i.id, "question": i.question, "answer": i.answer} for i in STORED)]
    records[1]["keywords"] = ["cane", "dog"]
    records.append({"id": "wifi", "question": "C'è il wifi?", "answer": "Sì."})
    result = invoke("kb", "import", str(_file(tmp_path, records)))
    assert result.exit_code == 0, result.output
    assert "1 new, 0 changed, 0 removed, 4 unchanged" in result.stdout
    on_database(lambda services: services.kb.replace_all([]))
    result = invoke("kb", "import", str(_file(tmp_path, INCOMING)))
    assert result.exit_code == 0, result.output
    assert "6 new, 0 changed, 0 removed, 0 unchanged" in result.stdout
    assert len(_stored_ids()) == len(INCOMING)


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_bad_file_is_exit_2_and_changes_nothing(
    cli_database: str, tmp_path: Path, dry_run: bool
) -> None:
    """A missing answer, a twice-used id, a bad extension or no file: one line, nothing changed."""
    _arrange()
    before = snapshot()
    twice = [INCOMING[0], {**INCOMING[3], "id": "orari"}]
    (tmp_path / "kb.txt").write_text("id,question,answer\n")
    cases = [
        (_file(tmp_path, [{"id": "x", "question": "Q?"}]), "missing answer"),
        (_file(tmp_path, twice, "twice.json"), "duplicate id"),
        (tmp_path / "kb.txt", "unsupported extension '.txt'"),
        (tmp_path / "absent.json", "cannot read"),
    ]
    flags = ["--dry-run"] if dry_run else ["--yes"]
    for path, words in cases:
        _refused(invoke("kb", "import", str(path), *flags), 2, words)
    assert snapshot() == before


def test_list_json_has_every_item(cli_database: str, tmp_path: Path) -> None:
    """`kb list --json` reads the database: language, question, answer, keyword count."""
    _arrange()
    german = {"id": "de-hunde", "question": "Hund?", "answer": "Ja.", "language": "de"}
    path = _file(tmp_path, [*INCOMING[:2], german])
    assert invoke("kb", "import", str(path), "--yes").exit_code == 0
    result = invoke("kb", "list", "--json")
    assert result.exit_code == 0, result.output
    entries = json.loads(result.stdout)
    assert [e["id"] for e in entries] == ["cani", "de-hunde", "orari"]
    by_id = {e["id"]: e for e in entries}
    assert by_id["cani"]["language"] == "en"
    assert by_id["cani"]["question"] == "Posso portare il cane?"
    assert by_id["cani"]["keyword_count"] == 2
    assert by_id["de-hunde"]["answer"] == "Ja."
    german = json.loads(invoke("kb", "list", "--json", "--lang", "de").stdout)
    assert [e["id"] for e in german] == ["de-hunde"]
    table = invoke("kb", "list")
    assert table.exit_code == 0, table.output
    assert "de-hunde" in table.stdout
    assert "Hund?" in table.stdout
    _refused(invoke("kb", "list", "--lang", "fr"), 2, "unknown language 'fr'")


def test_kb_test_answers_from_the_sample_and_stores_nothing(cli_database: str) -> None:
    """The opening hours come from "orari"; asking for a person offers a human."""
    on_database(lambda services: services.kb.list_items())  # the first use seeds the sample
    before = snapshot()
    result = invoke("kb", "test", "a che ora aprite?", "--json")
    assert result.exit_code == 0, result.output
    hours = json.loads(result.stdout)
    assert hours["sources"][:1] == ["orari"]
    assert "17:30" in hours["answer"]
    assert hours["offer_human"] is False
    assert hours["language"] == "it"
    candidates = hours["candidates"]
    assert candidates[0]["id"] == "orari"
    assert 3 <= len(candidates) <= 5
    scores = [c["score"] for c in candidates]
    assert scores == sorted(scores, reverse=True)
    assert hours["confidence"] > scores[1]
    person = json.loads(invoke("kb", "test", "voglio parlare con una persona", "--json").stdout)
    assert person["offer_human"] is True
    assert "visitor_asked" in person["reasons"]
    text = invoke("kb", "test", "a che ora aprite?")
    assert text.exit_code == 0, text.output
    assert "sources: orari" in text.stdout
    assert "offer a human: no" in text.stdout
    assert any(line.split()[1:2] == ["orari"] for line in text.stdout.splitlines()[4:])
    assert snapshot() == before


def test_kb_test_on_a_file_and_bad_questions(cli_database: str, tmp_path: Path) -> None:
    """--kb answers from a file instead of the database; an empty question is exit 2."""
    path = _file(tmp_path, INCOMING)
    result = invoke("kb", "test", "c'è il wifi?", "--kb", str(path), "--json")
    assert result.exit_code == 0, result.output
    trial = json.loads(result.stdout)
    assert trial["candidates"][0]["id"] in {"wifi", "wifi-ter"}
    assert {c["id"] for c in trial["candidates"]} <= {r["id"] for r in INCOMING}
    _refused(invoke("kb", "test", "   "), 2, "question")
    _refused(invoke("kb", "test", "orari?", "--kb", str(tmp_path / "absent.json")), 2, "cannot")
