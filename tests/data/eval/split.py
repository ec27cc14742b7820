#!/usr/bin/env python3
"""One-time splitter for the FAQ evaluation sets (stdlib only).

Reads <dataset>/all.jsonl and writes <dataset>/validation.jsonl and
<dataset>/test.jsonl, stratified by the "kind" field: within each kind the
records are shuffled with random.Random(20261206) (a fresh generator per
kind, kinds taken in sorted order) and 40 % of them, rounded half up, go to
validation; the rest go to test.

Records are written unchanged (all fields kept), one JSON object per line,
with ensure_ascii=False and sorted keys. Within each output file the records
keep their order from all.jsonl.

Usage:
    python3 tests/data/eval/split.py            # dataset "skischool"
    python3 tests/data/eval/split.py skischool

The split is meant to be made once and committed; re-running it on the same
all.jsonl reproduces the same files.
"""

import json
import random
import sys
from collections import defaultdict
from pathlib import Path

SEED = 20261206
VALIDATION_SHARE_NUM, VALIDATION_SHARE_DEN = 2, 5  # 40 %


def validation_size(n: int) -> int:
    """40 % of n, rounded half up, in integer arithmetic."""
    return (2 * n * VALIDATION_SHARE_NUM + VALIDATION_SHARE_DEN) // (2 * VALIDATION_SHARE_DEN)


def split(records):
    by_kind = defaultdict(list)
    for index, record in enumerate(records):
        by_kind[record["kind"]].append(index)
    validation = set()
    for kind in sorted(by_kind):
        indices = list(by_kind[kind])
        random.Random(SEED).shuffle(indices)
        validation.update(indices[: validation_size(len(indices))])
    val = [r for i, r in enumerate(records) if i in validation]
    test = [r for i, r in enumerate(records) if i not in validation]
    return val, test


def read_jsonl(path: Path):
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_jsonl(path: Path, records) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")


def main(argv) -> int:
    dataset = argv[1] if len(argv) > 1 else "skischool"
    folder = Path(__file__).resolve().parent / dataset
    records = read_jsonl(folder / "all.jsonl")
    val, test = split(records)
    write_jsonl(folder / "validation.jsonl", val)
    write_jsonl(folder / "test.jsonl", test)
    print(f"{dataset}: {len(records)} records -> validation {len(val)}, test {len(test)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
