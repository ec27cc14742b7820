"""The LLM responder against a fake OpenAI-compatible server: prompt, privacy, failures.

Every failure mode the issue names (timeout, 429, 5xx, malformed JSON, wrong key,
connection refused) must become an ExternalServiceError, and the circuit breaker must
switch to the offline responder while the server keeps failing. An optional live test
runs only with OPENAI_API_KEY set.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator

import pytest

from lucine_adapters.kb.bm25 import DEFAULT_MIN_CONFIDENCE
from lucine_adapters.llm import AnswerExtractor, BreakerResponder, OpenAiResponder
from lucine_adapters.responders import KbResponder
from lucine_adapters.settings import LlmConfig
from lucine_core.enums import Language, ResponderStatus, Sender
from lucine_core.errors import ExternalServiceError
from lucine_core.kb import AnswerRequest, Turn
from tests.contract.test_responder import ask, llm_config
from tests.fake_openai import FakeOpenAI, Script, fake_openai


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    """A fresh fake per test, so its record holds only this test's requests."""
    with fake_openai() as fake:
        yield fake


def llm(server: FakeOpenAI, **changes: float) -> OpenAiResponder:
    """The responder on the fake."""
    return OpenAiResponder(llm_config(server.url, **changes), min_confidence=DEFAULT_MIN_CONFIDENCE)


def sent_text(server: FakeOpenAI) -> str:
    """Everything the server received, as one string."""
    return json.dumps(server.requests, ensure_ascii=False)


async def test_the_prompt_carries_the_items_with_their_ids_and_the_limits(
    server: FakeOpenAI,
) -> None:
    """Model, temperature, max tokens and JSON mode are sent; each item goes with its id."""
    request = ask("how much is a ticket?", Language.EN)
    await llm(server).answer(request)
    body = server.requests[0]
    assert body["model"] == "fake-model"
    assert body["max_tokens"] == 300
    assert body["temperature"] == 0.2
    assert body["response_format"] == {"type": "json_object"}
    system = body["messages"][0]
    assert system["role"] == "system"
    assert "Reply in English" in system["content"]
    for hit in request.retrieved:
        assert f"[{hit.item.id}]\nQ: {hit.item.question}" in system["content"]
    assert body["messages"][-1] == {"role": "user", "content": "how much is a ticket?"}
    assert server.headers[0]["authorization"] == "Bearer test-key"


async def test_personal_data_is_masked_before_it_leaves(server: FakeOpenAI) -> None:
    """E-mail, phone and card numbers in the question and the history never reach the model."""
    secrets = ["ada.lovelace@example.org", "+39 333 123 4567", "4111 1111 1111 1111"]
    history = (
        Turn(sender=Sender.USER, text=f"scrivetemi a {secrets[0]}"),
        Turn(sender=Sender.BOT, text="Certo."),
        Turn(sender=Sender.SYSTEM, text="Un operatore si è unito"),
    )
    question = f"chiamatemi al {secrets[1]}, ho pagato con {secrets[2]}"
    base = ask("biglietti")
    request = AnswerRequest(
        question=question, language=Language.IT, history=history, retrieved=base.retrieved
    )
    await llm(server).answer(request)
    text = sent_text(server)
    for secret in secrets:
        assert secret not in text
    messages = server.requests[0]["messages"]
    assert messages[-1]["content"] == "chiamatemi al [phone], ho pagato con [card]"
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[1]["content"] == "scrivetemi a [email]"


async def test_only_the_latest_history_turns_are_sent(server: FakeOpenAI) -> None:
    """At most history_turns earlier messages go along, the latest ones."""
    history = tuple(Turn(sender=Sender.USER, text=f"messaggio {n}") for n in range(10))
    config = LlmConfig(model="m", base_url=server.url, api_key="k", max_retries=0, history_turns=3)
    responder = OpenAiResponder(config, min_confidence=DEFAULT_MIN_CONFIDENCE)
    await responder.answer(AnswerRequest(question="ciao", language=Language.IT, history=history))
    contents = [m["content"] for m in server.requests[0]["messages"][1:]]
    assert contents == ["messaggio 7", "messaggio 8", "messaggio 9", "ciao"]


async def test_unknown_cited_ids_are_dropped_and_usage_is_kept(server: FakeOpenAI) -> None:
    """Ids the model invents are dropped; the known one stays; token usage is returned."""
    request = ask("a che ora aprite?")
    known = request.retrieved[0].item.id
    server.then(
        Script(
            content=json.dumps(
                {"answer": "Alle 17:30.", "sources": ["inventato", known, 7], "unsure": False}
            )
        )
    )
    answer = await llm(server).answer(request)
    assert answer.sources == (known,)
    assert answer.confidence >= DEFAULT_MIN_CONFIDENCE
    assert (answer.input_tokens, answer.output_tokens) == (120, 30)


async def test_an_unsure_model_has_no_confidence(server: FakeOpenAI) -> None:
    """A model that says it is unsure has confidence 0, even with a source cited."""
    request = ask("a che ora aprite?")
    known = request.retrieved[0].item.id
    server.then(
        Script(
            content=json.dumps({"answer": "Non sono sicuro.", "sources": [known], "unsure": True})
        )
    )
    answer = await llm(server).answer(request)
    assert answer.confidence == 0.0


async def test_a_fenced_json_reply_is_understood(server: FakeOpenAI) -> None:
    """Some local models wrap the object in a Markdown code fence."""
    request = ask("a che ora aprite?")
    known = request.retrieved[0].item.id
    reply = json.dumps({"answer": "Alle 17:30.", "sources": [known], "unsure": False})
    server.then(Script(content=f"```json\n{reply}\n```"))
    assert (await llm(server).answer(request)).text == "Alle 17:30."


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        (Script(status=429, headers={"Retry-After": "0"}), "rate limited (429)"),
        (Script(status=500), "HTTP 500"),
        (Script(status=503), "HTTP 503"),
        (Script(status=401), "the API key was refused (401)"),
        (Script(body=b"{not json"), "unusable response"),
        (Script(content="Le luci si accendono alle 17:30."), "the reply is not JSON"),
        (Script(content=json.dumps({"sources": []})), "the reply has no answer text"),
        (Script(content=json.dumps({"answer": "  "})), "the answer is empty"),
    ],
    ids=["429", "500", "503", "401", "malformed-body", "prose", "no-answer", "empty"],
)
async def test_each_failure_is_an_external_service_error(
    server: FakeOpenAI, script: Script, reason: str
) -> None:
    """HTTP errors and unusable replies raise ExternalServiceError naming what went wrong."""
    server.then(script)
    with pytest.raises(ExternalServiceError) as caught:
        await llm(server).answer(ask("a che ora aprite?"))
    assert caught.value.service == "llm"
    assert caught.value.reason.startswith(reason)


async def test_a_slow_server_times_out(server: FakeOpenAI) -> None:
    """A reply slower than the timeout raises ExternalServiceError("timed out")."""
    server.then(Script(delay=1.5))
    with pytest.raises(ExternalServiceError) as caught:
        await llm(server, timeout=0.3).answer(ask("a che ora aprite?"))
    assert caught.value.reason == "timed out"


async def test_a_refused_connection_is_an_external_service_error() -> None:
    """Nothing listening on the port: ExternalServiceError("cannot connect")."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    responder = OpenAiResponder(
        llm_config(f"http://127.0.0.1:{port}/v1"), min_confidence=DEFAULT_MIN_CONFIDENCE
    )
    with pytest.raises(ExternalServiceError) as caught:
        await responder.answer(ask("a che ora aprite?"))
    assert caught.value.reason == "cannot connect"


async def test_a_passing_5xx_is_retried(server: FakeOpenAI) -> None:
    """With retries on, one 500 then a good reply gives the answer."""
    server.then(Script(status=500))
    answer = await llm(server, max_retries=1).answer(ask("a che ora aprite?"))
    assert answer.sources
    assert len(server.requests) == 2


async def test_a_streamed_reply_reaches_the_sink_piece_by_piece(server: FakeOpenAI) -> None:
    """With streaming on, the answer text arrives in pieces that add up to the answer."""
    config = LlmConfig(model="m", base_url=server.url, api_key="k", max_retries=0, stream=True)
    responder = OpenAiResponder(config, min_confidence=DEFAULT_MIN_CONFIDENCE)
    pieces: list[str] = []

    async def sink(piece: str) -> None:
        pieces.append(piece)

    request = ask("a che ora aprite?")
    answer = await responder.answer(request, on_text=sink)
    assert server.requests[0]["stream"] is True
    assert len(pieces) > 3
    assert "".join(pieces) == answer.text == request.retrieved[0].item.answer
    assert answer.sources == (request.retrieved[0].item.id,)
    assert (answer.input_tokens, answer.output_tokens) == (120, 30)
    # Without a sink (or with streaming off) the same responder asks for the whole reply.
    await responder.answer(request)
    assert "stream" not in server.requests[1]


async def test_a_broken_stream_is_an_external_service_error(server: FakeOpenAI) -> None:
    """A stream whose JSON never closes is refused like any unusable reply."""
    config = LlmConfig(model="m", base_url=server.url, api_key="k", max_retries=0, stream=True)
    responder = OpenAiResponder(config, min_confidence=DEFAULT_MIN_CONFIDENCE)
    server.then(Script(content='{"answer": "Alle 17:3'))

    async def sink(piece: str) -> None:
        return None

    with pytest.raises(ExternalServiceError):
        await responder.answer(ask("a che ora aprite?"), on_text=sink)


@pytest.mark.parametrize("size", [1, 2, 5, 64])
def test_the_extractor_decodes_the_answer_whatever_the_cuts(size: int) -> None:
    """Escapes, quotes and non-ASCII letters survive any cutting of the raw reply."""
    answer = 'Sì, è "aperto"\nogni giorno: 5 € \\ a testa ☃'
    raw = json.dumps({"sources": ["x"], "answer": answer, "unsure": False})
    extractor = AnswerExtractor()
    text = "".join(extractor.feed(raw[i : i + size]) for i in range(0, len(raw), size))
    assert text == answer


class Ticker:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_the_breaker_falls_back_to_offline_answers_and_retries_later(
    server: FakeOpenAI,
) -> None:
    """The breaker opens after three failures and closes after a good trial.

    While open the offline responder answers and status is DEGRADED; after the
    cool-down one trial goes to the model, and success closes it.
    """
    ticker = Ticker()
    breaker = BreakerResponder(
        llm(server),
        KbResponder(DEFAULT_MIN_CONFIDENCE),
        failures_to_open=3,
        cool_down=30,
        monotonic=ticker,
    )
    request = ask("a che ora aprite?")
    server.then(*[Script(status=500)] * 3)
    for _ in range(3):
        with pytest.raises(ExternalServiceError):
            await breaker.answer(request)
    assert breaker.status() is ResponderStatus.DEGRADED
    calls = len(server.requests)
    offline = await breaker.answer(request)
    assert offline.sources == (request.retrieved[0].item.id,)
    assert len(server.requests) == calls  # the model was not asked
    ticker.now += 31
    server.then(Script(status=500))
    assert (await breaker.answer(request)).sources  # trial failed: offline answered
    assert breaker.status() is ResponderStatus.DEGRADED
    ticker.now += 31
    assert (await breaker.answer(request)).sources  # trial succeeded
    assert breaker.status() is ResponderStatus.OK
    assert len(server.requests) == calls + 2


@pytest.mark.skipif(not os.environ.get("OPENAI_API_KEY"), reason="OPENAI_API_KEY is not set")
async def test_live_openai_answers_with_a_source() -> None:
    """Against the real OpenAI API (optional): a grounded answer citing the item."""
    config = LlmConfig(
        model=os.environ.get("LUCINE_LLM_MODEL", "gpt-4o-mini"),
        api_key=os.environ["OPENAI_API_KEY"],
        timeout=30,
    )
    request = ask("a che ora aprite?")
    answer = await OpenAiResponder(config, min_confidence=DEFAULT_MIN_CONFIDENCE).answer(request)
    assert answer.sources
    assert set(answer.sources) <= {hit.item.id for hit in request.retrieved}
