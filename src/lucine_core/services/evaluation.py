"""Answer quality measured on labelled visitor messages: what `lucine kb eval` reports.

Each message goes through `try_question`, exactly as the first message of a new chat:
retrieval, the responder, the escalation rules. A message labelled with items is
*answerable*: it counts as right when the reply cites its item (every item, for a
multi-part message) and no human is offered. A message labelled `ESCALATE`
(off-topic, a request for a human, a complaint) counts as right when a human is
offered.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Final

import attrs

from lucine_core.enums import Language
from lucine_core.escalation import visitor_reasons
from lucine_core.services.context import Services
from lucine_core.services.knowledge import Trial, try_question

__all__ = [
    "ESCALATE",
    "CalibrationBin",
    "EvalCase",
    "EvalOutcome",
    "EvalReport",
    "Score",
    "evaluate",
]

ESCALATE: Final = "ESCALATE"
"""The label of a message that should reach a human."""

_BINS: Final = 10


@attrs.frozen(kw_only=True)
class EvalCase:
    """One labelled visitor message.

    Attributes:
        question: The message.
        expect: The items that answer it (two for a multi-part message); empty when it
            should escalate.
        kind: What sort of message it is (paraphrase, typo, offtopic, ...).
        language: The language it is written in, when labelled.
    """

    question: str
    expect: tuple[str, ...]
    kind: str = ""
    language: Language | None = None

    @property
    def answerable(self) -> bool:
        """Whether an item answers it."""
        return bool(self.expect)


@attrs.frozen(kw_only=True)
class EvalOutcome:
    """What the assistant did with one case.

    Attributes:
        case: The case.
        trial: The reply, its sources, confidence and whether a human was offered.
        right: Answered with the expected items, or escalated when it should.
        top3: For an answerable case: every expected item is among the first three
            retrieved.
    """

    case: EvalCase
    trial: Trial
    right: bool
    top3: bool


@attrs.frozen(kw_only=True)
class Score:
    """A share of cases: ``right`` out of ``total``."""

    right: int
    total: int

    @property
    def share(self) -> float:
        """``right / total`` (0 when there is no case)."""
        return self.right / self.total if self.total else 0.0


@attrs.frozen(kw_only=True)
class CalibrationBin:
    """Answerable-or-not cases whose top confidence fell in ``[low, high)``.

    Attributes:
        low: The bin's lower bound.
        high: Its upper bound.
        count: Cases in it.
        mean_confidence: Their mean confidence.
        right: How many had the expected item first.
    """

    low: float
    high: float
    count: int
    mean_confidence: float
    right: int


@attrs.frozen(kw_only=True)
class EvalReport:
    """The figures of an evaluation.

    Attributes:
        outcomes: Every case with what happened.
        top1: Answerable cases answered right.
        recall3: Answerable cases with their items among the first three retrieved.
        escalated: Cases labelled `ESCALATE` that were offered a human.
        needless_offers: Answerable cases that were offered a human.
        by_kind: ``right`` per kind.
        by_language: ``right`` of answerable cases per labelled language.
        calibration: The top confidence against how often the top item was right
            (messages asking for a human or complaining left out: rules decide those).
    """

    outcomes: tuple[EvalOutcome, ...]
    top1: Score
    recall3: Score
    escalated: Score
    needless_offers: Score
    by_kind: dict[str, Score]
    by_language: dict[str, Score]
    calibration: tuple[CalibrationBin, ...]

    @property
    def misses(self) -> tuple[EvalOutcome, ...]:
        """The cases handled wrongly."""
        return tuple(outcome for outcome in self.outcomes if not outcome.right)


def _judge(case: EvalCase, trial: Trial) -> EvalOutcome:
    retrieved = [hit.item.id for hit in trial.retrieved]
    if not case.answerable:
        return EvalOutcome(case=case, trial=trial, right=trial.offer_human, top3=False)
    cited = set(trial.sources)
    right = not trial.offer_human and all(item in cited for item in case.expect)
    if len(case.expect) == 1:
        right = right and trial.sources[:1] == case.expect
    top3 = all(item in retrieved[:3] for item in case.expect)
    return EvalOutcome(case=case, trial=trial, right=right, top3=top3)


def _score(outcomes: Iterable[EvalOutcome], *, top3: bool = False) -> Score:
    chosen = list(outcomes)
    right = sum(1 for o in chosen if (o.top3 if top3 else o.right))
    return Score(right=right, total=len(chosen))


def _calibration(outcomes: Sequence[EvalOutcome]) -> tuple[CalibrationBin, ...]:
    """Top confidences against correctness, leaving out what escalates by rule."""
    bins: dict[int, list[tuple[float, bool]]] = defaultdict(list)
    for outcome in outcomes:
        hits = outcome.trial.retrieved
        if not hits or visitor_reasons(outcome.case.question):
            continue
        top = hits[0]
        right = top.item.id in outcome.case.expect
        index = min(_BINS - 1, int(top.score * _BINS))
        bins[index].append((top.score, right))
    return tuple(
        CalibrationBin(
            low=index / _BINS,
            high=(index + 1) / _BINS,
            count=len(entries),
            mean_confidence=sum(score for score, _ in entries) / len(entries),
            right=sum(1 for _, right in entries if right),
        )
        for index, entries in sorted(bins.items())
    )


async def evaluate(services: Services, cases: Sequence[EvalCase]) -> EvalReport:
    """Put every case to the assistant as a new chat's first message and score it.

    Nothing is stored. The language of each reply is detected from the message, as
    in a chat.
    """
    outcomes = tuple(
        [_judge(case, await try_question(services, question=case.question)) for case in cases]
    )
    answerable = [o for o in outcomes if o.case.answerable]
    kinds: dict[str, list[EvalOutcome]] = defaultdict(list)
    languages: dict[str, list[EvalOutcome]] = defaultdict(list)
    for outcome in outcomes:
        kinds[outcome.case.kind or "-"].append(outcome)
        if outcome.case.answerable and outcome.case.language is not None:
            languages[outcome.case.language.value].append(outcome)
    return EvalReport(
        outcomes=outcomes,
        top1=_score(answerable),
        recall3=_score(answerable, top3=True),
        escalated=_score(o for o in outcomes if not o.case.answerable),
        needless_offers=Score(
            right=sum(1 for o in answerable if o.trial.offer_human), total=len(answerable)
        ),
        by_kind={kind: _score(group) for kind, group in sorted(kinds.items())},
        by_language={lang: _score(group) for lang, group in sorted(languages.items())},
        calibration=_calibration(outcomes),
    )
