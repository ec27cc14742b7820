"""Labelled visitor messages in JSON lines, for `lucine kb eval` and `lucine kb calibrate`.

One object per line: ``{"q": "...", "expect": "item-id"}``; ``expect`` may also be a
list of ids (a multi-part message) or ``"ESCALATE"`` (it should reach a human);
``"kind"`` and ``"lang"`` (it, en, de) are optional. Blank lines are skipped.
"""

from __future__ import annotations

import json
from pathlib import Path

from lucine_core.enums import Language
from lucine_core.errors import ValidationError
from lucine_core.services.evaluation import ESCALATE, EvalCase

__all__ = ["load_cases", "parse_cases"]


def load_cases(path: Path) -> list[EvalCase]:
    """Read a JSON-lines file of labelled messages.

    Raises:
        ValidationError: the file cannot be read, or a line is not a valid case (named).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ValidationError(field=str(path), reason=str(error)) from None
    return parse_cases(text, source=str(path))


def parse_cases(text: str, *, source: str = "input") -> list[EvalCase]:
    """Parse JSON lines of labelled messages.

    Raises:
        ValidationError: a line is not a valid case, naming it; or there is none.
    """
    cases = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            cases.append(_case(line, f"{source}:{number}"))
    if not cases:
        raise ValidationError(field=source, reason="holds no case")
    return cases


def _case(line: str, where: str) -> EvalCase:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as error:
        raise ValidationError(field=where, reason=f"not JSON ({error.msg})") from None
    if not isinstance(data, dict):
        raise ValidationError(field=where, reason="must be a JSON object")
    question = data.get("q")
    if not isinstance(question, str) or not question.strip():
        raise ValidationError(field=where, reason='"q" must be a non-empty string')
    expect = data.get("expect")
    if expect == ESCALATE:
        expected: tuple[str, ...] = ()
    elif isinstance(expect, str) and expect:
        expected = (expect,)
    elif isinstance(expect, list) and expect and all(isinstance(e, str) and e for e in expect):
        expected = tuple(expect)
    else:
        raise ValidationError(
            field=where, reason='"expect" must be an item id, a list of ids or "ESCALATE"'
        )
    kind = data.get("kind", "")
    if not isinstance(kind, str):
        raise ValidationError(field=where, reason='"kind" must be a string')
    lang = data.get("lang")
    try:
        language = Language(lang) if lang is not None else None
    except ValueError:
        raise ValidationError(field=where, reason='"lang" must be it, en or de') from None
    return EvalCase(question=question, expect=expected, kind=kind, language=language)
