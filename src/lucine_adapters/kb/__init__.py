"""Knowledge-base adapters: offline BM25 retrieval, and import from JSON or CSV files."""

from lucine_adapters.kb.bm25 import DEFAULT_MIN_CONFIDENCE, Bm25KnowledgeBase
from lucine_adapters.kb.loader import dump_kb, load_kb, parse_kb, sample_kb

__all__ = [
    "DEFAULT_MIN_CONFIDENCE",
    "Bm25KnowledgeBase",
    "dump_kb",
    "load_kb",
    "parse_kb",
    "sample_kb",
]
