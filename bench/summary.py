"""One table of the latest benchmark figures, against the targets and the system we replace.

    python3 dev.py nox -s bench          (or: .venv/bin/python bench/summary.py)

Reads what the other benchmarks wrote under bench/results/ (load.json, load-no-encoder.json,
realtime.json, growth.json, retrieval.json; a missing one is left out of the table and
named), prints one Markdown table and writes it to bench/results/summary.md, the rows to
summary.json. The reference figures are v2.7's own (its README: 100 concurrent users,
one process; today's stats ~270 ms at 100k chats).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
REFERENCE_STATS_MS = 270.0


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / name
    return json.loads(path.read_text()) if path.exists() else None


def _run(load: dict[str, Any], backend: str, workers: int) -> dict[str, Any] | None:
    return next(
        (r for r in load["runs"] if r["backend"] == backend and r["workers"] == workers), None
    )


Row = dict[str, Any]


def _row(
    figure: str,
    value: float,
    unit: str,
    *,
    target: float | None = None,
    above: bool = True,
    reference: float | None = None,
    higher_is_better: bool = True,
) -> Row:
    met = None if target is None else (value >= target if above else value < target)
    multiple = None
    if reference:
        multiple = value / reference if higher_is_better else reference / value if value else None
    return {
        "figure": figure,
        "value": value,
        "unit": unit,
        "target": None if target is None else f"{'>=' if above else '<'} {target:g}",
        "met": met,
        "reference": reference,
        "multiple_of_reference": None if multiple is None else round(multiple, 1),
    }


def load_rows(load: dict[str, Any], quiet: dict[str, Any] | None) -> list[Row]:
    """Throughput, latency and memory from bench/load.py."""
    reference = load["reference"]
    rows = []
    for backend, workers in (("sqlite", 1), ("postgres", 1), ("postgres", 2)):
        run = _run(load, backend, workers)
        if run is None:
            continue
        where = f"{backend}, {workers} worker{'s' if workers > 1 else ''}"
        goal = backend == "postgres" and workers == 2  # the targets' configuration  # noqa: PLR2004
        chat = run["chat"]
        rows += [
            _row(
                f"POST /api/chat requests/s ({where})",
                chat["requests_per_second"],
                "req/s",
                target=3000 if goal else None,
                reference=reference["requests_per_second"],
            ),
            # No v2.7 beside it: its 312 ms mean was at 50 req/s with 100 users, about 16
            # requests in flight (Little's law); wrk keeps 100 in flight.
            _row(
                f"POST /api/chat p99, 100 in flight ({where})",
                chat["p99_ms"],
                "ms",
                target=50 if goal else None,
                above=False,
            ),
            _row(
                f"poll requests/s ({where})",
                run["poll"]["requests_per_second"],
                "req/s",
                target=5000 if goal else None,
            ),
            _row(
                f"chat / trivial endpoint ({where})",
                run["chat_to_live"],
                "ratio",
                target=0.15 if goal else None,
            ),
            _row(
                f"RSS per worker, encoder loaded ({where})",
                max(run["peak_rss_mb_per_worker"]),
                "MB",
                reference=reference["peak_rss_mb"],
                higher_is_better=False,
            ),
        ]
    if quiet is not None:
        run = _run(quiet, "postgres", 2) or quiet["runs"][-1]
        rows.append(
            _row(
                "RSS per worker, no encoder (postgres)",
                max(run["peak_rss_mb_per_worker"]),
                "MB",
                target=100,
                above=False,
                reference=reference["peak_rss_mb"],
                higher_is_better=False,
            )
        )
    return rows


def realtime_rows(realtime: dict[str, Any]) -> list[Row]:
    """Operator POST to the visitor's stream, two workers."""
    all_rows = realtime["rows"]["all"]
    return [
        _row(
            f"realtime p99, 2 workers ({realtime['chats']} chats, lost {all_rows['lost']})",
            all_rows["p99_ms"],
            "ms",
            target=realtime["target_p99_ms"],
            above=False,
        )
    ]


def growth_rows(growth: dict[str, Any]) -> list[Row]:
    """The worst dashboard read and today's stats at the seeded size, per backend."""
    rows = []
    size = f"{growth['sessions']:,} chats"
    for backend in ("sqlite", "postgres"):
        mine = [u for u in growth["use_cases"] if u["backend"] == backend]
        if not mine:
            continue
        reads = [u for u in mine if not u["use_case"].startswith("stats")]
        worst = max(reads, key=lambda u: u["p99_ms"])
        rows.append(
            _row(
                f"slowest dashboard read p99 at {size} ({backend}: {worst['use_case']})",
                worst["p99_ms"],
                "ms",
                target=worst["target_p99_ms"],
                above=False,
            )
        )
        rows += [
            _row(
                f"today's stats p99 at {size} ({backend})",
                u["p99_ms"],
                "ms",
                target=u["target_p99_ms"],
                above=False,
                reference=REFERENCE_STATS_MS,
                higher_is_better=False,
            )
            for u in mine
            if u["use_case"].startswith("stats")
        ]
    return rows


def retrieval_rows(retrieval: dict[str, Any]) -> list[Row]:
    """One visitor message's retrieval at 1,000 items."""
    hybrid = retrieval["hybrid"]
    return [
        _row(
            f"retrieval per message, {retrieval['items']:,} items, p99 (p50 {hybrid['p50_ms']:g})",
            hybrid["p99_ms"],
            "ms",
        )
    ]


SOURCES: tuple[tuple[str, Callable[..., list[Row]]], ...] = (
    ("realtime.json", realtime_rows),
    ("growth.json", growth_rows),
    ("retrieval.json", retrieval_rows),
)


def markdown(rows: list[Row], missing: list[str]) -> str:
    """The table."""
    lines = [
        "| figure | Lucine | target | met | v2.7 | Lucine's multiple of v2.7 |",
        "|---|---:|---|---|---:|---:|",
    ]
    for r in rows:
        met = "" if r["met"] is None else ("yes" if r["met"] else "**no**")
        reference = "" if r["reference"] is None else f"{r['reference']:g}"
        multiple = "" if r["multiple_of_reference"] is None else f"{r['multiple_of_reference']}x"
        lines.append(
            f"| {r['figure']} | {r['value']:.4g} {r['unit']} | {r['target'] or ''} | {met} "
            f"| {reference} | {multiple} |"
        )
    if missing:
        lines += ["", f"Not run yet: {', '.join(missing)}."]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Print and write the summary."""
    rows: list[Row] = []
    missing = []
    load = _load("load.json")
    if load is None:
        missing.append("load.json")
    else:
        rows += load_rows(load, _load("load-no-encoder.json"))
    for name, build in SOURCES:
        found = _load(name)
        if found is None:
            missing.append(name)
        else:
            rows += build(found)
    table = markdown(rows, missing)
    (RESULTS / "summary.md").write_text(table)
    (RESULTS / "summary.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(table)


if __name__ == "__main__":
    main()
