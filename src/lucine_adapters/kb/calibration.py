"""Fitting the hybrid ranker's confidence on labelled messages (`lucine kb calibrate`).

For every labelled message the top-ranked item's features are recorded with whether
that item answers it; a logistic regression (Newton's method, a little L2) turns the
features into a probability. The escalation threshold is then the one that makes the
fewest mistakes on the same messages: a wrong answer given, a right answer withheld.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import numpy as np
import numpy.typing as npt

from lucine_adapters.kb.hybrid import Calibration, HybridKnowledgeBase
from lucine_core.enums import Language
from lucine_core.escalation import visitor_reasons
from lucine_core.language import detect_language
from lucine_core.services.evaluation import EvalCase

__all__ = ["Fit", "Sample", "fit", "fit_logistic", "samples"]

_L2 = 0.01
_STEPS = 50


@attrs.frozen
class Sample:
    """One message's top hit: its features, lexical confidence, and whether it is right."""

    features: tuple[float, ...]
    lexical: float
    right: bool


@attrs.frozen
class Fit:
    """A fitted calibration, the threshold chosen with it, and its table.

    Attributes:
        calibration: The weights.
        threshold: The confidence below which a human should be offered.
        table: ``(low, high, count, mean confidence, share right)`` per tenth.
        mistakes: Wrong answers given plus right answers withheld at ``threshold``.
    """

    calibration: Calibration
    threshold: float
    table: tuple[tuple[float, float, int, float, float], ...]
    mistakes: int


async def samples(kb: HybridKnowledgeBase, cases: Sequence[EvalCase]) -> list[Sample]:
    """The top hit of every case, as the knowledge base ranks it in a chat.

    The language hint is the one detected from the message, as in a chat. Messages
    that ask for a human or complain are left out: they escalate by rule, whatever
    the confidence.
    """
    found = []
    for case in cases:
        if visitor_reasons(case.question):
            continue
        language = detect_language(case.question, Language.IT)
        candidates = await kb.explain(case.question, language=language)
        lexical = kb.lexical_hits(case.question, language, 1)
        if not candidates:
            continue
        top = candidates[0]
        found.append(
            Sample(
                features=top.features,
                lexical=lexical[0] if lexical else 0.0,
                right=top.item.id in case.expect,
            )
        )
    return found


def fit_logistic(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Weights (intercept first) of an L2-regularised logistic regression of ``y`` on ``x``."""
    design = np.hstack([np.ones((len(x), 1)), x])
    weights = np.zeros(design.shape[1])
    penalty = _L2 * np.eye(design.shape[1])
    penalty[0, 0] = 0.0
    for _ in range(_STEPS):
        p = 1.0 / (1.0 + np.exp(-np.clip(design @ weights, -30, 30)))
        gradient = design.T @ (p - y) + penalty @ weights
        hessian = (
            design.T @ (design * (p * (1 - p))[:, None]) + penalty + 1e-9 * np.eye(len(weights))
        )
        weights = weights - np.linalg.solve(hessian, gradient)
    return weights


def fit(found: Sequence[Sample]) -> Fit:
    """Fit both calibrations and choose the threshold on ``found``.

    Raises:
        ValueError: fewer than 10 samples, or all right or all wrong.
    """
    y = np.array([s.right for s in found], dtype=np.float64)
    if len(found) < 10 or y.min() == y.max():  # noqa: PLR2004
        raise ValueError("need at least 10 labelled messages, some answered right and some not")
    x = np.array([s.features for s in found], dtype=np.float64)
    hybrid = fit_logistic(x, y)
    lexical = fit_logistic(np.array([[s.lexical] for s in found]), y)
    calibration = Calibration(
        hybrid=tuple(round(float(w), 3) for w in hybrid),  # type: ignore[arg-type]
        lexical=(round(float(lexical[0]), 3), round(float(lexical[1]), 3)),
    )
    p = np.array([calibration.probability(s.features) for s in found])
    best, threshold = len(found) + 1, 0.5
    for candidate in np.arange(0.05, 0.96, 0.01):
        mistakes = int(np.sum((p >= candidate) & (y == 0)) + np.sum((p < candidate) & (y == 1)))
        if mistakes < best:
            best, threshold = mistakes, round(float(candidate), 2)
    return Fit(calibration=calibration, threshold=threshold, table=_table(p, y), mistakes=best)


def _table(
    p: npt.NDArray[np.float64], y: npt.NDArray[np.float64]
) -> tuple[tuple[float, float, int, float, float], ...]:
    rows = []
    for tenth in range(10):
        low, high = tenth / 10, (tenth + 1) / 10
        inside = (p >= low) & ((p < high) if tenth < 9 else (p <= high))  # noqa: PLR2004
        if inside.any():
            rows.append(
                (low, high, int(inside.sum()), float(p[inside].mean()), float(y[inside].mean()))
            )
    return tuple(rows)
