"""The Embedder port's contract, against the bundled encoder and an embeddings server.

The server is `tests.fake_embeddings` on 127.0.0.1, reached through the real OpenAI
client; its failures are scripted below.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from lucine_adapters.kb.embedding import (
    BUNDLED_MODEL,
    BreakerEmbedder,
    BundledEmbedder,
    Embedder,
)
from lucine_adapters.kb.remote import OpenAiEmbedder
from lucine_core.errors import ExternalServiceError
from tests.fake_embeddings import FakeEmbeddings, Reply, fake_embeddings


@pytest.fixture
def server() -> Iterator[FakeEmbeddings]:
    with fake_embeddings() as fake:
        yield fake


def _remote(server: FakeEmbeddings, **options: float) -> OpenAiEmbedder:
    return OpenAiEmbedder(
        "fake-embed",
        base_url=server.url,
        api_key="test",
        timeout=options.get("timeout", 5.0),
        max_retries=int(options.get("max_retries", 0)),
    )


@pytest.fixture(params=["bundled", "openai"])
def embedder(request: pytest.FixtureRequest, server: FakeEmbeddings) -> Embedder:
    if request.param == "bundled":
        return BundledEmbedder()
    return _remote(server)


async def test_one_unit_vector_per_text_in_order(embedder: Embedder) -> None:
    """Each text gets one row of length 1; the same text gets the same row wherever it is."""
    texts = ["Dove si parcheggia?", "Quanto costa il biglietto?", "Dove si parcheggia?"]
    vectors = await embedder.embed(texts)
    assert vectors.shape[0] == len(texts)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(vectors[0], vectors[2], atol=1e-5)
    assert not np.allclose(vectors[0], vectors[1], atol=1e-3)


async def test_related_texts_are_closer_than_unrelated(embedder: Embedder) -> None:
    """A rewording of a question is nearer to it than a question about something else."""
    question, reworded, other = await embedder.embed(
        [
            "Dove si parcheggia la macchina?",
            "dove posso parcheggiare la macchina",
            "Chi ha vinto la partita ieri sera?",
        ]
    )
    assert float(question @ reworded) > float(question @ other)


async def test_no_text_gives_no_vector(embedder: Embedder) -> None:
    """An empty batch is answered without a call and gives zero rows."""
    assert (await embedder.embed([])).shape[0] == 0


async def test_models_are_named_apart(server: FakeEmbeddings) -> None:
    """Vectors of different encoders are stored under different names."""
    assert BundledEmbedder().model == BUNDLED_MODEL
    assert _remote(server).model == "openai:fake-embed"


def test_the_bundled_encoder_covers_italian_english_and_german() -> None:
    """The same question in three languages lands closer than an unrelated Italian one."""
    it, en, de, other = BundledEmbedder().embed_now(
        [
            "Quanto costa una lezione privata?",
            "How much is a private lesson?",
            "Was kostet eine Privatstunde?",
            "Dove si trova il punto di ritrovo?",
        ]
    )
    assert float(it @ en) > float(it @ other)
    assert float(it @ de) > float(it @ other)


async def test_large_batches_are_split(server: FakeEmbeddings) -> None:
    """Many texts go in batches the server accepts, and come back in order."""
    texts = [f"domanda numero {n}" for n in range(150)]
    vectors = await _remote(server).embed(texts)
    assert vectors.shape[0] == len(texts)
    assert len(server.requests) == 3
    assert np.allclose(vectors[149], (await _remote(server).embed([texts[149]]))[0], atol=1e-6)


@pytest.mark.parametrize(
    "reply",
    [
        Reply(status=500),
        Reply(status=429),
        Reply(status=401),
        Reply(body=b"not json"),
        Reply(body=b'"hello"'),
        Reply(body=b"{}"),
        Reply(body=b'{"data": null}'),
        Reply(body=b'{"data": []}'),
        Reply(body=b'{"data": [{"index": 0, "embedding": "x"}]}'),
        Reply(body=b'{"data": [{"index": 0, "embedding": []}]}'),
        Reply(body=b'{"data": [{"index": 0}]}'),
    ],
    ids=lambda r: f"{r.status}-{(r.body or b'')[:24]!r}",
)
async def test_server_failures_are_external_service_errors(
    server: FakeEmbeddings, reply: Reply
) -> None:
    """An HTTP error or a reply that is not a list of vectors raises ExternalServiceError."""
    server.then(reply)
    with pytest.raises(ExternalServiceError) as caught:
        await _remote(server).embed(["Dove si parcheggia?"])
    assert caught.value.service == "embeddings"


async def test_a_slow_server_times_out(server: FakeEmbeddings) -> None:
    """A reply slower than the timeout raises ExternalServiceError ("timed out")."""
    server.then(Reply(delay=1.0))
    with pytest.raises(ExternalServiceError) as caught:
        await _remote(server, timeout=0.2).embed(["Dove si parcheggia?"])
    assert caught.value.reason == "timed out"


async def test_an_unreachable_server_cannot_connect() -> None:
    """A refused connection raises ExternalServiceError ("cannot connect")."""
    with fake_embeddings() as gone:
        url = gone.url
    embedder = OpenAiEmbedder("fake-embed", base_url=url, api_key="x", max_retries=0)
    with pytest.raises(ExternalServiceError) as caught:
        await embedder.embed(["Dove si parcheggia?"])
    assert caught.value.reason == "cannot connect"


async def test_the_breaker_leaves_a_failing_server_alone_then_tries_again(
    server: FakeEmbeddings,
) -> None:
    """After three failures in a row calls fail at once; after the cool-down one tries again."""
    now = [0.0]
    breaker = BreakerEmbedder(_remote(server), cool_down=30.0, monotonic=lambda: now[0])
    server.then(Reply(status=500), Reply(status=500), Reply(status=500))
    for _ in range(3):
        with pytest.raises(ExternalServiceError):
            await breaker.embed(["uno"])
    assert breaker.degraded
    with pytest.raises(ExternalServiceError):
        await breaker.embed(["uno"])
    assert len(server.requests) == 3
    now[0] = 31.0
    vectors = await breaker.embed(["uno"])
    assert vectors.shape[0] == 1
    assert not breaker.degraded
    assert len(server.requests) == 4
