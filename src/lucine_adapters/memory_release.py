"""Giving memory freed in bulk back to the system."""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable

__all__ = ["release_freed_memory"]


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        trim: Callable[[int], int] = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None  # not glibc
    return trim


def release_freed_memory() -> None:
    """Give memory freed while indexing back to the system (glibc keeps it otherwise).

    Building the BM25 index and encoding the items allocate and free tens of MB;
    glibc would keep them in the process (measured: 346 MB resident with 1,000 items
    indexed, 291 MB after trimming). Does nothing elsewhere than glibc.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
