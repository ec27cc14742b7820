"""Hybrid retrieval at 1,000 items: query latency, index build time, worker memory.

    python3 dev.py nox -s bench            (or: .venv/bin/python bench/retrieval.py)

The knowledge base is the ski school's 56 items and the sample's 52, copied with
numbered variants of their texts up to 1,000 items (every text distinct, so nothing is
shared between copies). Queries are the ski school's validation messages.

Prints: the process's resident memory before and after the encoder is loaded; the time
to encode and index 1,000 items (3 fields each, keywords one row each); the median and
99th percentile of one search (encoding the message included) with the hybrid ranker
and with BM25 alone, as a worker runs them (one BLAS thread). Writes the figures to
bench/results/retrieval.json. A benchmark, not a test: compare ratios, not absolutes.
"""

from __future__ import annotations

import asyncio
import json
import resource
import statistics
import time
from pathlib import Path

import attrs

from lucine_adapters.kb import Bm25KnowledgeBase
from lucine_adapters.kb.embedding import BundledEmbedder, one_blas_thread
from lucine_adapters.kb.evalset import load_cases
from lucine_adapters.kb.hybrid import HybridKnowledgeBase
from lucine_adapters.kb.loader import load_kb, sample_kb
from lucine_core.kb import KnowledgeBaseItem

ROOT = Path(__file__).resolve().parent.parent
SKI = ROOT / "tests" / "data" / "eval" / "skischool"
ITEMS = 1000
ROUNDS = 3
RESULTS = ROOT / "bench" / "results"


def rss_mb() -> float:
    """The resident set size now, in MB (from /proc; the peak on other systems)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def thousand_items() -> list[KnowledgeBaseItem]:
    base = [*load_kb(SKI / "kb.json"), *sample_kb()]
    items = []
    for n in range(ITEMS):
        item = base[n % len(base)]
        copy = n // len(base)
        item = attrs.evolve(item, id=f"{n}-{item.id}"[:64])
        if copy:
            item = attrs.evolve(
                item,
                question=f"{item.question} ({copy})",
                answer=f"{item.answer} [{copy}]",
                keywords=tuple(f"{k} {copy}" for k in item.keywords),
            )
        items.append(item)
    return items


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(name: str, samples: list[float]) -> dict[str, float]:
    median = statistics.median(samples)
    p99 = percentile(samples, 0.99)
    print(f"{name:<44} median {median:7.3f} ms   p99 {p99:7.3f} ms")
    return {"p50_ms": round(median, 3), "p99_ms": round(p99, 3)}


async def main() -> None:
    one_blas_thread()  # as bootstrap does in every worker
    figures: dict[str, object] = {"items": ITEMS, "rss_mb_before_encoder": rss_mb()}
    print(f"worker RSS before the encoder              {rss_mb():7.1f} MB")
    embedder = BundledEmbedder()
    embedder.embed_now(["carica il modello"])
    figures["rss_mb_with_encoder"] = rss_mb()
    print(f"worker RSS with the encoder loaded         {rss_mb():7.1f} MB")
    items = thousand_items()
    start = time.perf_counter()
    hybrid = HybridKnowledgeBase(embedder, items)
    await hybrid.list_items()
    figures["index_build_s"] = round(time.perf_counter() - start, 2)
    figures["rss_mb_indexed"] = rss_mb()
    print(f"index build, {ITEMS} items (encode + BM25)       {figures['index_build_s']:7.2f} s")
    print(f"worker RSS with {ITEMS} items indexed          {rss_mb():7.1f} MB")
    lexical = Bm25KnowledgeBase(items)
    queries = [case.question for case in load_cases(SKI / "validation.jsonl")]
    for key, name, kb in (
        ("hybrid", "hybrid search (encode + rank), 1,000 items", hybrid),
        ("bm25", "BM25 alone", lexical),
    ):
        timings = []
        for _ in range(ROUNDS):
            for query in queries:
                began = time.perf_counter()
                await kb.search(query, limit=3)
                timings.append((time.perf_counter() - began) * 1000)
        figures[key] = report(name, timings)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "retrieval.json").write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
