"""How long the repetitive tests run: short at a desk and in CI, long in `nox -s stress`.

Three modes, from the environment: ``stress`` (LUCINE_STRESS=1, set by the nox session of
that name, meant for a nightly run), ``ci`` (CI=true) and ``dev`` (anything else). Each
repetition count can also be set by its own variable, e.g. LUCINE_RACE_RUNS=100.
"""

from __future__ import annotations

import os

STRESS = os.environ.get("LUCINE_STRESS") == "1"
CI = os.environ.get("CI") == "true"
MODE = "stress" if STRESS else "ci" if CI else "dev"


def repetitions(variable: str, *, dev: int, ci: int, stress: int) -> int:
    """The count for this run's mode, unless ``variable`` names one in the environment."""
    chosen = os.environ.get(variable)
    if chosen is not None:
        return int(chosen)
    return {"dev": dev, "ci": ci, "stress": stress}[MODE]


# Hypothesis examples per property in each mode (the profiles of tests/conftest.py).
HYPOTHESIS_EXAMPLES = {"dev": 50, "ci": 200, "stress": 2000}
