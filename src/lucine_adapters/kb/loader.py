"""Import and export of knowledge bases as JSON or CSV files, all or nothing.

JSON: a list of objects ``{"id", "question", "answer", "keywords"?, "language"?}`` with
``keywords`` a list of strings. CSV: a header row with the same columns, comma- or
semicolon-separated, keywords in one cell separated by ``;`` or ``|`` (only ``|`` in a
semicolon-separated file). ``language`` is ``it`` (the default), ``en`` or ``de``.
Unknown fields are refused, so a misspelt column is reported rather than dropped.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Final, Literal

from lucine_core.enums import Language
from lucine_core.errors import ValidationError
from lucine_core.kb import ITEM_ID, KnowledgeBaseItem, new_item

__all__ = ["dump_kb", "load_kb", "parse_kb", "sample_kb"]

Format = Literal["json", "csv"]

_SUFFIXES: Final[Mapping[str, Format]] = {".json": "json", ".csv": "csv"}
_REQUIRED: Final = ("id", "question", "answer")
_FIELDS: Final = frozenset((*_REQUIRED, "keywords", "language"))
_KEYWORD_SEPARATORS: Final = re.compile(r"[;|]")


def load_kb(path: Path) -> list[KnowledgeBaseItem]:
    """Read every item of a ``.json`` or ``.csv`` file, or none.

    Raises:
        ValidationError: the file cannot be read, is not UTF-8, has another extension,
            or any item is invalid; ``field`` names the file, line or item.
    """
    kind = _SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise ValidationError(
            field="file", reason=f"unsupported extension {path.suffix!r}: use .json or .csv"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValidationError(field="file", reason=f"cannot read {path}: {exc.strerror}") from None
    return parse_kb(data, kind=kind)


def parse_kb(data: bytes | str, *, kind: Format) -> list[KnowledgeBaseItem]:
    """Parse a whole knowledge base from a file's content (an upload, say).

    Raises:
        ValidationError: as `load_kb`.
    """
    if isinstance(data, bytes):
        try:
            # utf-8-sig: spreadsheets often start UTF-8 files with a byte-order mark.
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValidationError(
                field="file", reason=f"not UTF-8 text (invalid byte at offset {exc.start})"
            ) from None
    records = _json_records(data) if kind == "json" else _csv_records(data)
    items: list[KnowledgeBaseItem] = []
    first_use: dict[str, str] = {}
    for where, record in records:
        item = _item(where, record)
        if item.id in first_use:
            raise ValidationError(
                field=f"{where} (id {item.id!r})",
                reason=f"duplicate id, already used by {first_use[item.id]}",
            )
        first_use[item.id] = where
        items.append(item)
    if not items:
        raise ValidationError(field="file", reason="contains no items")
    return items


def sample_kb() -> list[KnowledgeBaseItem]:
    """Return the sample knowledge base of the Lucine di Natale event shipped with Lucine."""
    source = resources.files("lucine_adapters.data").joinpath("lucine_kb.json")
    return parse_kb(source.read_bytes(), kind="json")


def dump_kb(items: Iterable[KnowledgeBaseItem]) -> str:
    """Return the items as JSON that `load_kb` reads back unchanged."""
    return (
        json.dumps(
            [
                {
                    "id": item.id,
                    "question": item.question,
                    "answer": item.answer,
                    "keywords": list(item.keywords),
                    "language": item.language.value,
                }
                for item in items
            ],
            ensure_ascii=False,
            indent=2,
        )
        + "\n"
    )


def _json_records(text: str) -> list[tuple[str, Mapping[str, Any]]]:
    """Return the JSON file's objects, each with where it is ("item 3")."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            field=f"line {exc.lineno}", reason=f"invalid JSON: {exc.msg} (column {exc.colno})"
        ) from None
    if not isinstance(document, list):
        raise ValidationError(field="file", reason="must be a JSON list of items")
    records: list[tuple[str, Mapping[str, Any]]] = []
    for number, record in enumerate(document, start=1):
        if not isinstance(record, dict):
            raise ValidationError(field=f"item {number}", reason="must be a JSON object")
        records.append((f"item {number}", record))
    return records


def _csv_records(text: str) -> list[tuple[str, Mapping[str, Any]]]:
    """Return the CSV file's rows as mappings, each with where it is ("line 4")."""
    header = text.split("\n", 1)[0]
    delimiter = ";" if header.count(";") > header.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        columns = [name.strip().lower() for name in next(reader, [])]
        unknown = sorted(set(columns) - _FIELDS)
        if unknown:
            raise ValidationError(field="line 1", reason=f"unknown columns {unknown}")
        missing = [name for name in _REQUIRED if name not in columns]
        if missing:
            raise ValidationError(field="line 1", reason=f"missing columns {missing}")
        records: list[tuple[str, Mapping[str, Any]]] = []
        start = reader.line_num + 1
        for row in reader:
            where, start = f"line {start}", reader.line_num + 1
            if not any(cell.strip() for cell in row):
                continue  # spreadsheets leave blank rows behind
            if len(row) != len(columns):
                raise ValidationError(
                    field=where, reason=f"has {len(row)} cells, the header has {len(columns)}"
                )
            record: dict[str, Any] = dict(zip(columns, row, strict=True))
            if "keywords" in record:
                record["keywords"] = _KEYWORD_SEPARATORS.split(record["keywords"])
            records.append((where, record))
    except csv.Error as exc:
        raise ValidationError(
            field=f"line {reader.line_num}", reason=f"invalid CSV: {exc}"
        ) from None
    return records


def _item(where: str, record: Mapping[str, Any]) -> KnowledgeBaseItem:
    """Validate one record and build its item."""
    raw_id = record.get("id")
    if isinstance(raw_id, str) and ITEM_ID.fullmatch(raw_id.strip()):
        where = f"{where} (id {raw_id.strip()!r})"
    unknown = sorted(set(record) - _FIELDS)
    if unknown:
        raise ValidationError(field=where, reason=f"unknown fields {unknown}")
    for name in _REQUIRED:
        if record.get(name) is None:
            raise ValidationError(field=where, reason=f"missing {name}")
        if not isinstance(record[name], str):
            raise ValidationError(field=where, reason=f"{name} must be text")
    keywords = record.get("keywords")
    if keywords is not None and (
        not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords)
    ):
        raise ValidationError(field=where, reason="keywords must be a list of texts")
    try:
        return new_item(
            item_id=record["id"],
            question=record["question"],
            answer=record["answer"],
            keywords=keywords or (),
            language=_language(where, record.get("language")),
        )
    except ValidationError as exc:
        label = "a keyword" if exc.field == "keywords" else exc.field
        raise ValidationError(field=where, reason=f"{label} {exc.reason}") from None


def _language(where: str, value: object) -> Language:
    """Return the item's language; blank means Italian."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return Language.IT
    if isinstance(value, str):
        try:
            return Language(value.strip().lower())
        except ValueError:
            pass
    choices = ", ".join(language.value for language in Language)
    raise ValidationError(field=where, reason=f"unknown language {value!r} (use {choices})")
