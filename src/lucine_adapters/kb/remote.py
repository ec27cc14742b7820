"""The ``/v1/embeddings`` endpoint of an OpenAI-compatible server, as an `Embedder`.

Apart from `lucine_adapters.kb.embedding` so that the OpenAI SDK (23 MB resident) is
imported only by a process configured to use it (``LUCINE_EMBEDDINGS=openai``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import openai
from openai import AsyncOpenAI

from lucine_adapters.kb.embedding import BATCH, SERVICE, Vectors, normalised
from lucine_core.errors import ExternalServiceError

__all__ = ["OpenAiEmbedder"]


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
        for start in range(0, len(texts), BATCH):
            rows.extend(await self._batch(list(texts[start : start + BATCH])))
        if not rows:
            return np.zeros((0, 0), dtype=np.float32)
        return normalised(rows)

    async def _batch(self, texts: list[str]) -> list[list[float]]:
        try:
            response: Any = await self._client.embeddings.create(
                model=self._model, input=texts, encoding_format="float"
            )
        except openai.OpenAIError as error:
            raise ExternalServiceError(service=SERVICE, reason=_reason(error)) from error
        except (ValueError, TypeError, AttributeError) as error:
            raise ExternalServiceError(service=SERVICE, reason="unusable response") from error
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
        raise ExternalServiceError(service=SERVICE, reason="wrong number of vectors")
    try:
        ordered = sorted(data, key=lambda entry: int(entry.index))
        rows = [[float(value) for value in entry.embedding] for entry in ordered]
    except (AttributeError, TypeError, ValueError):
        raise ExternalServiceError(service=SERVICE, reason="malformed vectors") from None
    width = len(rows[0]) if rows else 0
    if not width or any(len(row) != width for row in rows):
        raise ExternalServiceError(service=SERVICE, reason="vectors of unequal length")
    if not all(math.isfinite(value) for row in rows for value in row):
        raise ExternalServiceError(service=SERVICE, reason="vectors are not finite")
    return rows
