"""Answer quality on knowledge we did not tune on: the ski school's test split.

``tests/data/eval/skischool`` is a second business (a ski school, 56 items) with 311
visitor messages written before any tuning and split once (seed 20261206, 40/60 by
kind). Retrieval and calibration were tuned on its validation split and on the sample
knowledge base's held-out set only; the test split's misses are not read while tuning.
Each message goes through the default assistant (hybrid retrieval, the offline
responder, the escalation rules) as a new chat's first message.

The floors below are the measured figures less a small margin, so a change that
makes answers worse fails here. They are below issue 11's targets (top-1 85 %,
escalated 90 %, English and German 80 %): the figures are reported as they are.
Run with ``pytest -s`` to see the table.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from lucine_adapters.bootstrap import bootstrap
from lucine_adapters.kb.evalset import load_cases
from lucine_adapters.settings import Settings
from lucine_core.services import Services
from lucine_core.services.evaluation import EvalReport, evaluate

DATA = Path(__file__).parent.parent / "data"
SKI = DATA / "eval" / "skischool"

# Measured on the test split (2026-12-06): top-1 65.9 %, escalated 64.0 %, needless
# offers 2.9 %, English 65.2 %, German 81.8 %.
FLOOR_TOP1 = 0.62
FLOOR_ESCALATED = 0.60
CEILING_NEEDLESS = 0.06
FLOOR_BY_LANGUAGE = {"it": 0.58, "en": 0.60, "de": 0.75}


def _services(kb: Path, tmp_path: Path) -> Services:
    return bootstrap(Settings(data_dir=tmp_path, kb_path=kb), in_memory=True)


def _table(title: str, report: EvalReport) -> str:
    def percent(right: int, total: int) -> str:
        return f"{100 * right / total:5.1f} % ({right}/{total})" if total else "-"

    needless = report.needless_offers
    lines = [
        title,
        f"  top-1 right        {percent(report.top1.right, report.top1.total)}",
        f"  recall@3           {percent(report.recall3.right, report.recall3.total)}",
        f"  escalated          {percent(report.escalated.right, report.escalated.total)}",
        f"  needless offers    {percent(needless.right, needless.total)}",
        *(f"  {kind:<18} {percent(s.right, s.total)}" for kind, s in report.by_kind.items()),
        *(
            f"  lang {lang:<13} {percent(s.right, s.total)}"
            for lang, s in report.by_language.items()
        ),
        "  calibration: confidence, count, share right",
        *(
            f"    {b.low:.1f}-{b.high:.1f}  {b.count:4d}  {b.right / b.count:.2f}"
            for b in report.calibration
        ),
    ]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def ski_report(tmp_path_factory: pytest.TempPathFactory) -> EvalReport:
    services = _services(SKI / "kb.json", tmp_path_factory.mktemp("ski"))
    report = asyncio.run(evaluate(services, load_cases(SKI / "test.jsonl")))
    print("\n" + _table("ski school, test split", report))
    return report


def test_the_test_split_is_large_and_labelled_with_real_ids() -> None:
    """At least 40 items (5 in English) and 250 messages over nine kinds, ids all known."""
    items = json.loads((SKI / "kb.json").read_text(encoding="utf-8"))
    ids = {item["id"] for item in items}
    assert len(items) >= 40
    assert sum(1 for item in items if item.get("language") == "en") >= 5
    cases = load_cases(SKI / "validation.jsonl") + load_cases(SKI / "test.jsonl")
    assert len(cases) >= 250
    kinds = {case.kind for case in cases}
    assert kinds == {
        "paraphrase",
        "colloquial",
        "typo",
        "english",
        "german",
        "multipart",
        "offtopic",
        "human",
        "complaint",
    }
    assert all(set(case.expect) <= ids for case in cases)


def test_answers_on_the_test_split_hold_their_measured_level(ski_report: EvalReport) -> None:
    """Top-1, escalation and needless offers stay at what was measured on unseen messages."""
    assert ski_report.top1.share >= FLOOR_TOP1
    assert ski_report.escalated.share >= FLOOR_ESCALATED
    assert ski_report.needless_offers.share <= CEILING_NEEDLESS


def test_every_language_holds_its_measured_level(ski_report: EvalReport) -> None:
    """Italian, English and German questions each stay at their measured level."""
    for language, floor in FLOOR_BY_LANGUAGE.items():
        assert ski_report.by_language[language].share >= floor, language


def test_requests_for_a_human_escalate_whatever_the_score(ski_report: EvalReport) -> None:
    """Explicit requests for a person are offered a human by rule: 90 % or more."""
    assert ski_report.by_kind["human"].share >= 0.9


async def test_the_sample_knowledge_base_answers_its_held_out_set(tmp_path: Path) -> None:
    """The sample KB's held-out phrasings (tuned on): top-1 >= 90 %, escalation >= 75 %."""
    cases = load_cases(DATA / "eval" / "sample" / "heldout.jsonl")
    services = bootstrap(Settings(data_dir=tmp_path), in_memory=True)
    report = await evaluate(services, cases)
    print("\n" + _table("sample knowledge base, held-out set", report))
    assert report.top1.share >= 0.9
    assert report.escalated.share >= 0.75
