"""`lucine kb`: import and export the knowledge base stored in the database."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import attrs
import typer

from lucine_adapters.bootstrap import bootstrap, close
from lucine_adapters.kb import dump_kb, load_kb
from lucine_adapters.kb.calibration import Sample, fit, samples
from lucine_adapters.kb.evalset import load_cases
from lucine_adapters.kb.hybrid import HybridKnowledgeBase
from lucine_adapters.sql.kb import SqlKnowledgeBase
from lucine_cli.common import database_services, fail, failed, load_settings
from lucine_core.errors import LucineError
from lucine_core.kb import KnowledgeBaseItem
from lucine_core.services import Services
from lucine_core.services.evaluation import ESCALATE, EvalCase, EvalReport, Score, evaluate
from lucine_core.services.gaps import GapGroup, knowledge_gaps

__all__ = ["kb_app"]

kb_app = typer.Typer(
    name="kb",
    help="The knowledge base in the database (edit single items in the dashboard).",
    no_args_is_help=True,
)


async def _replace(items: list[KnowledgeBaseItem]) -> None:
    async with database_services(load_settings()) as services:
        await services.kb.replace_all(items)


async def _items() -> list[KnowledgeBaseItem]:
    async with database_services(load_settings()) as services:
        return list(await services.kb.list_items())


@kb_app.command("import")
def kb_import(
    file: Annotated[Path, typer.Argument(help="A .json or .csv file of items.")],
) -> None:
    """Replace the whole knowledge base with the file's items, all or nothing.

    Every worker answers from the new items within a second.
    """
    try:
        items = load_kb(file)
        asyncio.run(_replace(items))
    except LucineError as error:
        failed(error)
    typer.echo(f"imported {len(items)} items from {file}")


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
    async with database_services(config) as services:
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
    async with database_services(load_settings()) as services:
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
