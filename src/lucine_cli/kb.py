"""`lucine kb`: the knowledge base stored in the database: import, export, list, try, measure."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import attrs
import typer

from lucine_adapters.bootstrap import bootstrap, close
from lucine_adapters.kb import dump_kb, load_kb
from lucine_adapters.kb.calibration import Sample, fit, samples
from lucine_adapters.kb.evalset import load_cases
from lucine_adapters.kb.hybrid import HybridKnowledgeBase
from lucine_adapters.settings import Settings
from lucine_adapters.sql.kb import SqlKnowledgeBase
from lucine_cli.common import confirm, database_services, fail, failed, load_settings, run
from lucine_core.enums import Language
from lucine_core.errors import LucineError
from lucine_core.kb import KnowledgeBaseItem, RetrievedItem
from lucine_core.services import Services
from lucine_core.services.dashboard import preview
from lucine_core.services.evaluation import ESCALATE, EvalCase, EvalReport, Score, evaluate
from lucine_core.services.gaps import GapGroup, knowledge_gaps
from lucine_core.services.knowledge import (
    KbChanges,
    Trial,
    compare_kb,
    import_kb,
    list_kb_items,
    try_question,
)

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

__all__ = ["kb_app"]

kb_app = typer.Typer(
    name="kb",
    help="The knowledge base in the database (edit single items in the dashboard).",
    no_args_is_help=True,
)

_CANDIDATES = 5
_LANGUAGES = tuple(language.value for language in Language)


class _Steps:
    """A transient progress bar on stderr that moves one step at a time."""

    def __init__(self, bar: Progress, task: TaskID) -> None:
        self._bar, self._task, self._done = bar, task, 0

    def __call__(self, description: str) -> None:
        """Start the next step (the earlier ones are done)."""
        self._bar.update(self._task, description=description, completed=self._done)
        self._done += 1

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Hide the bar while the terminal is asked something (for good if that fails)."""
        self._bar.stop()
        yield
        self._bar.start()


@contextmanager
def _steps(total: int) -> Iterator[_Steps]:
    # Imported here: rich draws the bar, and only the import needs it.
    from rich.console import Console  # noqa: PLC0415
    from rich.progress import Progress  # noqa: PLC0415

    console = Console(stderr=True)
    # Off the terminal rich would still print blank lines, into a log or a pipe.
    with Progress(console=console, transient=True, disable=not console.is_terminal) as bar:
        yield _Steps(bar, bar.add_task("", total=total))


async def _import(
    settings: Settings,
    file: Path,
    items: list[KnowledgeBaseItem],
    *,
    dry_run: bool,
    yes: bool,
    step: _Steps,
) -> KbChanges:
    async with database_services(settings, writes=not dry_run) as services:
        step("comparing with the database")
        stored = await services.kb.list_items()
        changes = compare_kb(stored, items)
        if dry_run:
            return changes
        if stored and changes.replaces_stored:
            with step.paused():
                confirm(
                    f"Replace the {len(stored)} stored items with the {len(items)} of "
                    f"{file.name} ({len(changes.changed)} changed, {len(changes.removed)} "
                    f"removed, {len(changes.new)} new)?",
                    yes=yes,
                    declined="not imported",
                )
        step("importing")
        return await import_kb(services, actor_id=None, items=items)


def _conflict_lines(changes: KbChanges, items: list[KnowledgeBaseItem]) -> list[str]:
    question = {item.id: item.question for item in items}
    return [
        *(
            f"same question: {', '.join(ids)} ({preview(question[ids[0]], 60)!r})"
            for ids in changes.same_question
        ),
        *(
            f"renamed? {old} -> {new} (same question; what links to {old} breaks)"
            for old, new in changes.renamed
        ),
    ]


def _counts(changes: KbChanges) -> str:
    return (
        f"{len(changes.new)} new, {len(changes.changed)} changed, "
        f"{len(changes.removed)} removed, {changes.unchanged} unchanged"
    )


def _dry_run_lines(file: Path, changes: KbChanges, items: list[KnowledgeBaseItem]) -> list[str]:
    lines = [f"would import {len(items)} items from {file}: {_counts(changes)} (nothing changed)"]
    sections = [
        ("new", list(changes.new)),
        ("changed", [f"{c.id} ({', '.join(c.fields)})" for c in changes.changed]),
        ("removed", list(changes.removed)),
        ("conflicts", _conflict_lines(changes, items)),
    ]
    for title, entries in sections:
        if entries:
            lines += [f"{title}:", *(f"  {entry}" for entry in entries)]
    return lines


@kb_app.command("import")
def kb_import(
    file: Annotated[Path, typer.Argument(help="A .json or .csv file of items.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only print what would change.")
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", help="Do not ask before changing or removing items.")
    ] = False,
) -> None:
    """Replace the whole knowledge base with the file's items, all or nothing.

    Prints the new, changed and removed items and the conflicts (two items asking the
    same question; an item whose id seems to have been changed). Asks first when stored
    items would be changed or removed. Every worker answers from the new items within a
    second.
    """
    settings = load_settings()
    with _steps(2 if dry_run else 3) as step:
        step(f"reading {file.name}")
        try:
            items = load_kb(file)
        except LucineError as error:
            failed(error)
        changes = run(_import(settings, file, items, dry_run=dry_run, yes=yes, step=step))
    if dry_run:
        typer.echo("\n".join(_dry_run_lines(file, changes, items)))
        return
    typer.echo(f"imported {len(items)} items from {file}: {_counts(changes)}")
    for line in _conflict_lines(changes, items):
        typer.echo(f"warning: {line}", err=True)


async def _items() -> list[KnowledgeBaseItem]:
    async with database_services(load_settings(), writes=False) as services:
        return list(await services.kb.list_items())


@kb_app.command("export")
def kb_export(
    output: Annotated[
        Path | None, typer.Argument(help="Where to write the JSON (standard output if absent).")
    ] = None,
) -> None:
    """Write every item as JSON that `lucine kb import` reads back unchanged."""
    try:
        text = dump_kb(asyncio.run(_items()))
    except LucineError as error:
        failed(error)
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        fail(f"{output}: {error.strerror}")


KbFileOption = Annotated[
    Path | None,
    typer.Option(
        "--kb", help="Evaluate a knowledge-base file (JSON or CSV) instead of the database's."
    ),
]


@asynccontextmanager
async def _services(kb: Path | None) -> AsyncIterator[Services]:
    config = load_settings()
    if kb is not None:
        services = bootstrap(attrs.evolve(config, kb_path=kb), in_memory=True)
        try:
            yield services
        finally:
            await close(services)
        return
    async with database_services(config, writes=False) as services:
        yield services


async def _evaluate(cases: list[EvalCase], kb: Path | None) -> EvalReport:
    async with _services(kb) as services:
        return await evaluate(services, cases)


def _percent(score: Score) -> str:
    return f"{100 * score.share:5.1f} % ({score.right}/{score.total})"


def _report_lines(report: EvalReport) -> list[str]:
    lines = [
        f"top-1 right (answerable)    {_percent(report.top1)}",
        f"recall@3 (answerable)       {_percent(report.recall3)}",
        f"escalated (ESCALATE cases)  {_percent(report.escalated)}",
        f"needless human offers       {_percent(report.needless_offers)}",
        "",
        "by kind:",
        *(f"  {kind:<12} {_percent(score)}" for kind, score in report.by_kind.items()),
        "by language (answerable):",
        *(f"  {lang:<12} {_percent(score)}" for lang, score in report.by_language.items()),
        "",
        "calibration (top hit):  confidence   count   mean   right",
        *(
            f"  {b.low:.1f}-{b.high:.1f}            {b.count:5d}   {b.mean_confidence:.2f}"
            f"   {b.right / b.count:.2f}"
            for b in report.calibration
        ),
        "",
        f"misses ({len(report.misses)}):",
    ]
    for miss in report.misses:
        expected = ", ".join(miss.case.expect) or ESCALATE
        chosen = ", ".join(miss.trial.sources) or "-"
        offered = " +human" if miss.trial.offer_human else ""
        lines.append(
            f"  [{miss.case.kind or '-'}] {miss.case.question!r}: expected {expected}, "
            f"got {chosen} ({miss.trial.confidence:.2f}){offered}"
        )
    return lines


def _report_json(report: EvalReport) -> dict[str, Any]:
    def score(value: Score) -> dict[str, Any]:
        return {"right": value.right, "total": value.total, "share": round(value.share, 4)}

    return {
        "top1": score(report.top1),
        "recall3": score(report.recall3),
        "escalated": score(report.escalated),
        "needless_offers": score(report.needless_offers),
        "by_kind": {kind: score(value) for kind, value in report.by_kind.items()},
        "by_language": {lang: score(value) for lang, value in report.by_language.items()},
        "calibration": [attrs.asdict(b) for b in report.calibration],
        "misses": [
            {
                "q": miss.case.question,
                "expect": list(miss.case.expect) or ESCALATE,
                "kind": miss.case.kind,
                "sources": list(miss.trial.sources),
                "confidence": round(miss.trial.confidence, 4),
                "offer_human": miss.trial.offer_human,
            }
            for miss in report.misses
        ],
    }


@kb_app.command("eval")
def kb_eval(
    file: Annotated[Path, typer.Argument(help="JSON lines of {q, expect[, kind, lang]}.")],
    kb: KbFileOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Measure the assistant on labelled visitor messages: each is a new chat's first message.

    ``expect`` is the id of the item that answers the message, a list of ids for a
    message asking several things, or "ESCALATE" when a human should be offered.
    Nothing is stored.
    """
    try:
        cases = load_cases(file)
        report = asyncio.run(_evaluate(cases, kb))
    except LucineError as error:
        failed(error)
    if as_json:
        typer.echo(json.dumps(_report_json(report), ensure_ascii=False, indent=2))
        return
    typer.echo("\n".join(_report_lines(report)))


async def _samples(cases: list[EvalCase], kb: Path | None) -> list[Sample]:
    async with _services(kb) as services:
        index = services.kb
        if isinstance(index, SqlKnowledgeBase):
            index = await index.index()
        if not isinstance(index, HybridKnowledgeBase):
            fail("calibration needs semantic retrieval (LUCINE_EMBEDDINGS is off)")
        return await samples(index, cases)


@kb_app.command("calibrate")
def kb_calibrate(
    files: Annotated[
        list[Path], typer.Argument(help="JSON lines of {q, expect[, kind, lang]}, one or more.")
    ],
    kbs: Annotated[
        list[Path] | None,
        typer.Option(
            "--kb",
            help="The knowledge-base file each FILE is labelled against, in the same order "
            "(default: the database's for every FILE).",
        ),
    ] = None,
) -> None:
    """Fit the confidence on labelled messages and choose the escalation threshold.

    Prints the calibration table, the weights and the threshold; use validation sets,
    never the messages you report figures on. Several FILE/--kb pairs are fitted
    together (a confidence that holds across knowledge bases).
    """
    pairs: list[tuple[Path, Path | None]] = [(file, None) for file in files]
    if kbs:
        if len(kbs) != len(files):
            fail(f"give one --kb per FILE ({len(files)} files, {len(kbs)} --kb)")
        pairs = list(zip(files, kbs, strict=True))
    try:
        found = [s for file, kb in pairs for s in asyncio.run(_samples(load_cases(file), kb))]
        result = fit(found)
    except LucineError as error:
        failed(error)
    except ValueError as error:
        fail(str(error))
    typer.echo("confidence   count   mean   right")
    for low, high, count, mean, right in result.table:
        typer.echo(f"{low:.1f}-{high:.1f}      {count:5d}   {mean:.2f}   {right:.2f}")
    typer.echo(f"hybrid weights:  {result.calibration.hybrid}")
    typer.echo(f"lexical weights: {result.calibration.lexical}")
    typer.echo(f"threshold: {result.threshold} ({result.mistakes} mistakes of {len(found)})")


async def _gaps(days: int, limit: int) -> list[GapGroup]:
    async with database_services(load_settings(), writes=False) as services:
        return await knowledge_gaps(services, days=days, limit=limit)


@kb_app.command("gaps")
def kb_gaps(
    days: Annotated[int, typer.Option(min=1, max=3650, help="Look this many days back.")] = 30,
    limit: Annotated[int, typer.Option(min=1, max=500, help="Show at most this many.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print the groups as JSON.")] = False,
) -> None:
    """What visitors asked that the assistant could not answer, grouped by meaning.

    Most frequent first, each with recent examples: the items worth writing next.
    """
    try:
        groups = asyncio.run(_gaps(days, limit))
    except LucineError as error:
        failed(error)
    if as_json:
        data = [
            {
                "count": group.count,
                "last_at": group.last_at.isoformat(),
                "examples": [gap.text for gap in group.examples],
            }
            for group in groups
        ]
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    if not groups:
        typer.echo(f"no unanswered questions in the last {days} days")
        return
    for group in groups:
        typer.echo(f"{group.count:5d}  {group.examples[0].text}")
        for gap in group.examples[1:]:
            typer.echo(f"       {gap.text}")


def _list_entry(item: KnowledgeBaseItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "language": item.language.value,
        "question": item.question,
        "answer": item.answer,
        "keyword_count": len(item.keywords),
    }


@kb_app.command("list")
def kb_list(
    lang: Annotated[
        str | None,
        typer.Option("--lang", help=f"Only the items in this language ({', '.join(_LANGUAGES)})."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array.")] = False,
) -> None:
    """Every stored item by id: language, question, the answer's start, how many keywords."""
    if lang is not None and lang.lower() not in _LANGUAGES:
        fail(f"unknown language {lang!r} (use {', '.join(_LANGUAGES)})")
    language = Language(lang.lower()) if lang is not None else None
    settings = load_settings()

    async def read() -> list[KnowledgeBaseItem]:
        async with database_services(settings, writes=False) as services:
            return list(await list_kb_items(services, language=language))

    entries = [_list_entry(item) for item in run(read())]
    if as_json:
        typer.echo(json.dumps(entries, ensure_ascii=False, indent=2))
        return
    # Imported here: rich draws the table, and only this command needs it.
    from rich.console import Console  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    table = Table("id", "lang", "question", "answer", "keywords")
    for entry in entries:
        table.add_row(
            entry["id"],
            entry["language"],
            preview(entry["question"], 60),
            preview(entry["answer"], 60),
            str(entry["keyword_count"]),
        )
    Console().print(table)


async def _test(question: str, kb: Path | None) -> tuple[Trial, list[RetrievedItem]]:
    async with _services(kb) as services:
        trial = await try_question(services, question=question)
        found = await services.kb.search(question, language=trial.language, limit=_CANDIDATES)
        return trial, list(found)


@kb_app.command("test")
def kb_test(
    question: Annotated[str, typer.Argument(help="What a visitor would write.")],
    kb: Annotated[
        Path | None,
        typer.Option("--kb", help="Answer from a knowledge-base file instead of the database's."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the trial as JSON.")] = False,
) -> None:
    """What the assistant would answer to a new chat opened with QUESTION; nothing is stored.

    Prints the reply, the items it cites, its confidence, whether a human would be
    offered (and why), and the best matches of the knowledge base with their scores.
    """
    if not question.strip():
        fail("question: must not be empty")
    trial, found = run(_test(question, kb))
    data = {
        "language": trial.language.value,
        "answer": trial.text,
        "sources": list(trial.sources),
        "confidence": round(trial.confidence, 4),
        "offer_human": trial.offer_human,
        "reasons": [reason.value for reason in trial.reasons],
        "candidates": [
            {"id": hit.item.id, "score": round(hit.score, 4), "question": hit.item.question}
            for hit in found
        ],
    }
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    reasons = f" ({', '.join(r.value for r in trial.reasons)})" if trial.reasons else ""
    lines = [
        f"answer ({trial.language.value}): {trial.text}",
        f"sources: {', '.join(trial.sources) or '-'}",
        f"confidence: {trial.confidence:.2f}",
        f"offer a human: {'yes' if trial.offer_human else 'no'}{reasons}",
        "best matches:" if found else "best matches: none",
        *(
            f"  {hit.score:.2f}  {hit.item.id:<24} {preview(hit.item.question, 60)}"
            for hit in found
        ),
    ]
    typer.echo("\n".join(lines))
