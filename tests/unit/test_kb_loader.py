"""Importing knowledge bases from JSON and CSV: all items or a precise error, never half."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lucine_adapters.kb import dump_kb, load_kb, parse_kb, sample_kb
from lucine_core.enums import Language
from lucine_core.errors import ValidationError
from lucine_core.kb import KnowledgeBaseItem

HOURS = {"id": "orari", "question": "A che ora aprite?", "answer": "Dalle 17:30 alle 23:00."}
DOGS = {
    "id": "en-dogs",
    "question": "Can I bring my dog?",
    "answer": "Yes, on a leash.",
    "keywords": ["dog", "pets"],
    "language": "en",
}


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _json(tmp_path: Path, records: object) -> Path:
    return _write(tmp_path, "kb.json", json.dumps(records, ensure_ascii=False, indent=2))


def test_json_file_loads_every_item_with_defaults(tmp_path: Path) -> None:
    """A JSON list loads in order; keywords default to none and language to Italian."""
    items = load_kb(_json(tmp_path, [HOURS, DOGS]))
    assert items == [
        KnowledgeBaseItem(
            id="orari", question="A che ora aprite?", answer="Dalle 17:30 alle 23:00."
        ),
        KnowledgeBaseItem(
            id="en-dogs",
            question="Can I bring my dog?",
            answer="Yes, on a leash.",
            keywords=("dog", "pets"),
            language=Language.EN,
        ),
    ]


def test_csv_file_loads_with_either_keyword_separator(tmp_path: Path) -> None:
    """CSV keywords split on ';' or '|', blanks dropped, text trimmed, BOM ignored."""
    content = (
        "\ufeffid,question,answer,keywords,language\n"
        'orari, A che ora aprite? ,"Dalle 17:30, ogni sera.",orario; ore |apertura|,IT\n'
        "\n"
        "cani,Posso portare il cane?,Sì.,,\n"
    )
    items = load_kb(_write(tmp_path, "kb.CSV", content))
    assert [item.id for item in items] == ["orari", "cani"]
    assert items[0].question == "A che ora aprite?"
    assert items[0].answer == "Dalle 17:30, ogni sera."
    assert items[0].keywords == ("orario", "ore", "apertura")
    assert items[0].language is Language.IT
    assert items[1].keywords == ()


def test_semicolon_separated_csv_from_a_spreadsheet_loads(tmp_path: Path) -> None:
    """A ';'-separated CSV (Italian spreadsheets) loads, with '|' between keywords."""
    content = "id;question;answer;keywords\norari;A che ora aprite?;Alle 17:30.;orario|ore\n"
    [item] = load_kb(_write(tmp_path, "kb.csv", content))
    assert item.keywords == ("orario", "ore")


def test_dump_then_load_gives_the_same_items(tmp_path: Path) -> None:
    """`dump_kb` writes JSON that `load_kb` reads back unchanged."""
    items = sample_kb()
    assert load_kb(_write(tmp_path, "copy.json", dump_kb(items))) == items


_words = st.text(
    alphabet=st.characters(categories=("L", "N"), include_characters=" ,;|'\"àèéìòù"),
    min_size=1,
    max_size=30,
).filter(lambda text: text.strip() and not set(text) <= set(" ,;|"))


@given(
    st.lists(
        st.builds(
            KnowledgeBaseItem,
            id=st.from_regex(r"[a-z0-9][a-z0-9_-]{0,10}", fullmatch=True),
            question=_words.map(str.strip),
            answer=_words.map(str.strip),
            keywords=st.lists(_words.map(str.strip), max_size=3).map(tuple),
            language=st.sampled_from(Language),
        ),
        min_size=1,
        max_size=5,
        unique_by=lambda item: item.id,
    )
)
def test_dump_round_trips_any_valid_items(items: list[KnowledgeBaseItem]) -> None:
    """Any valid items survive `dump_kb` then `parse_kb`, quotes and accents included."""
    assert parse_kb(dump_kb(items), kind="json") == items


def test_sample_kb_is_large_with_unique_ids_in_three_languages() -> None:
    """The shipped sample has at least 30 items, unique ids, and Italian, English, German."""
    items = sample_kb()
    ids = [item.id for item in items]
    assert len(items) >= 30
    assert len(set(ids)) == len(ids)
    assert {item.language for item in items} == set(Language)
    assert all(item.keywords for item in items)


@pytest.mark.parametrize(
    ("records", "field", "reason"),
    [
        ([HOURS, {**DOGS, "id": None}], "item 2", "missing id"),
        ([{k: v for k, v in HOURS.items() if k != "question"}], "item 1 (id 'orari')", "missing"),
        (
            [HOURS, {k: v for k, v in DOGS.items() if k != "answer"}],
            "item 2 (id 'en-dogs')",
            "answer",
        ),
        ([{**HOURS, "question": "   "}], "item 1 (id 'orari')", "question must not be empty"),
        ([{**HOURS, "answer": ""}], "item 1 (id 'orari')", "answer must not be empty"),
        ([{**HOURS, "keywords": ["ok", "\x07"]}], "item 1 (id 'orari')", "keyword"),
        ([{**HOURS, "keywords": "ore"}, DOGS], "item 1 (id 'orari')", "keywords must be"),
        ([{**HOURS, "language": "fr"}], "item 1 (id 'orari')", "unknown language 'fr'"),
        ([HOURS, DOGS, {**DOGS, "question": "Dogs?"}], "item 3 (id 'en-dogs')", "duplicate"),
        ([{**HOURS, "id": "orari e ore"}], "item 1", "id must be"),
        ([{**HOURS, "keyword": ["ore"]}], "item 1 (id 'orari')", "unknown fields ['keyword']"),
        ([HOURS, ["not", "an", "object"]], "item 2", "must be a JSON object"),
        ({"items": [HOURS]}, "file", "JSON list"),
        ([], "file", "no items"),
    ],
)
def test_each_bad_json_item_names_the_item_and_the_problem(
    tmp_path: Path, records: object, field: str, reason: str
) -> None:
    """A bad item raises ValidationError naming the item (number and id) and what is wrong."""
    with pytest.raises(ValidationError) as caught:
        load_kb(_json(tmp_path, records))
    assert caught.value.field == field
    assert reason in caught.value.reason


def test_duplicate_id_names_where_it_was_first_used(tmp_path: Path) -> None:
    """The duplicate-id error says which item used the id first."""
    with pytest.raises(ValidationError, match="already used by item 1"):
        load_kb(_json(tmp_path, [HOURS, DOGS, HOURS]))


def test_invalid_json_reports_its_line(tmp_path: Path) -> None:
    """Malformed JSON raises ValidationError naming the line of the mistake."""
    content = json.dumps([HOURS, DOGS], indent=2).replace('"Yes, on a leash."', '"Yes" "no"')
    path = _write(tmp_path, "kb.json", content)
    bad_line = next(n for n, line in enumerate(content.splitlines(), 1) if '"Yes" "no"' in line)
    with pytest.raises(ValidationError) as caught:
        load_kb(path)
    assert caught.value.field == f"line {bad_line}"
    assert "invalid JSON" in caught.value.reason


@pytest.mark.parametrize(
    ("content", "field", "reason"),
    [
        ("id,question\norari,A che ora?\n", "line 1", "missing columns ['answer']"),
        ("id,question,answer,note\n", "line 1", "unknown columns ['note']"),
        ("id,question,answer\norari,Orari?,Sera.\ncani,Cani?\n", "line 3", "has 2 cells"),
        ("id,question,answer\norari,Orari?,Sera.\n\ncani,,Sì.\n", "line 4 (id 'cani')", "empty"),
        ('id,question,answer\norari,"Orari?\nDi sera?",Sera.\nx y,Q?,A.\n', "line 4", "id must"),
        ("id,question,answer,language\norari,Orari?,Sera.,es\n", "line 2 (id 'orari')", "'es'"),
        (
            "id,question,answer\norari,Orari?,Sera.\norari,Ore?,Sera.\n",
            "line 3 (id 'orari')",
            "dup",
        ),
        ("id,question,answer\n", "file", "no items"),
    ],
)
def test_each_bad_csv_row_names_its_line(
    tmp_path: Path, content: str, field: str, reason: str
) -> None:
    """A bad CSV row raises ValidationError naming its line (where the record starts)."""
    with pytest.raises(ValidationError) as caught:
        load_kb(_write(tmp_path, "kb.csv", content))
    assert caught.value.field == field
    assert reason in caught.value.reason


def test_non_utf8_file_is_refused(tmp_path: Path) -> None:
    """A Latin-1 file raises ValidationError saying it is not UTF-8, with the byte offset."""
    path = _write(tmp_path, "kb.csv", "id,question,answer\ncani,Però?,Sì.\n".encode("latin-1"))
    with pytest.raises(ValidationError) as caught:
        load_kb(path)
    assert caught.value.field == "file"
    assert "not UTF-8" in caught.value.reason
    assert "offset 27" in caught.value.reason


@pytest.mark.parametrize("name", ["kb.txt", "kb.xlsx", "kb"])
def test_other_extensions_are_refused(tmp_path: Path, name: str) -> None:
    """Only .json and .csv files are read; anything else raises before reading."""
    with pytest.raises(ValidationError, match="unsupported extension"):
        load_kb(tmp_path / name)


def test_missing_file_is_a_validation_error(tmp_path: Path) -> None:
    """A path that cannot be read raises ValidationError rather than OSError."""
    with pytest.raises(ValidationError, match="cannot read"):
        load_kb(tmp_path / "absent.json")


def test_a_bad_last_item_imports_nothing(tmp_path: Path) -> None:
    """One bad item among good ones raises instead of returning the good ones."""
    records = [{**HOURS, "id": f"item-{n}"} for n in range(50)] + [{**HOURS, "answer": " "}]
    with pytest.raises(ValidationError) as caught:
        load_kb(_json(tmp_path, records))
    assert caught.value.field == "item 51 (id 'orari')"
