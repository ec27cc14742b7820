"""The core imports nothing but the standard library and attrs (import-linter's stricter twin)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "src" / "lucine_core"
ALLOWED = set(sys.stdlib_module_names) | {"attrs", "lucine_core"}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_core_imports_only_stdlib_and_attrs() -> None:
    """Every module of lucine_core imports only the standard library, attrs and itself."""
    modules = sorted(CORE.rglob("*.py"))
    assert len(modules) > 20
    offenders = {str(p.relative_to(CORE)): sorted(imported_roots(p) - ALLOWED) for p in modules}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_core_never_reads_the_clock_or_randomness_directly() -> None:
    """The core uses the Clock and IdFactory ports, never datetime.now, uuid or random."""
    banned = (
        "datetime.now(",
        "datetime.utcnow(",
        "uuid4(",
        "import random",
        "secrets.",
        "perf_counter",
    )
    hits = [
        f"{p.relative_to(CORE)}: {word}"
        for p in CORE.rglob("*.py")
        for word in banned
        if word in p.read_text()
    ]
    assert hits == []
