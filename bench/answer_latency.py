"""How long the assistant takes to answer, in memory, with the offline responder.

    python3 dev.py nox -s bench            (or: .venv/bin/python bench/answer_latency.py)

Prints the median and 99th percentile of: one retrieval over the sample knowledge base,
and one whole visitor message (store the question, retrieve, answer, store the reply).
A benchmark, not a test: figures depend on the machine; compare ratios, not absolutes.
"""

from __future__ import annotations

import asyncio
import statistics
import time

from lucine_adapters.bootstrap import bootstrap_in_memory
from lucine_adapters.kb import Bm25KnowledgeBase
from lucine_adapters.kb.loader import sample_kb
from lucine_core.services.chat import visitor_message

QUESTIONS = [
    "a che ora aprite?",
    "parcheggio",
    "quanto costa il biglietto per i bambini?",
    "posso portare il cane?",
    "how much are tickets?",
    "wie viel kostet der Eintritt",
    "non mi è arrivato il biglietto via mail",
    "qual è la capitale della Mongolia?",
]


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(name: str, samples: list[float]) -> None:
    median = statistics.median(samples)
    print(f"{name:<40} median {median:8.3f} ms   p99 {percentile(samples, 0.99):8.3f} ms")


def bench_retrieval(rounds: int) -> list[float]:
    kb = Bm25KnowledgeBase(sample_kb())
    samples = []
    for n in range(rounds):
        started = time.perf_counter()
        kb.search_now(QUESTIONS[n % len(QUESTIONS)], limit=3)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def bench_messages(rounds: int) -> list[float]:
    services = bootstrap_in_memory()
    samples = []
    for n in range(rounds):
        started = time.perf_counter()
        await visitor_message(services, text=QUESTIONS[n % len(QUESTIONS)], session_id=None)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main() -> None:
    report("retrieval (52-item KB)", bench_retrieval(5000))
    report("visitor message, new session, in memory", asyncio.run(bench_messages(2000)))


if __name__ == "__main__":
    main()
