"""The LLM responder against a fake OpenAI-compatible server: prompt, privacy, failures.

Every failure mode the issue names (timeout, 429, 5xx, malformed JSON, a 200 body that
is no completion, wrong key, connection refused) must become an ExternalServiceError,
and the circuit breaker must answer those requests with the offline responder (and keep
to it while the server keeps failing). A plain-text reply, with or without JSON mode,
is accepted and cited from the candidates. An optional live test runs only with
OPENAI_API_KEY set.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator

import attrs
import pytest

from lucine_adapters.kb.bm25 import DEFAULT_MIN_CONFIDENCE
from lucine_adapters.llm import (
    AnswerExtractor,
    BreakerResponder,
    CitationStripper,
    OpenAiResponder,
)
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


def plain_llm(
    server: FakeOpenAI, *, json_mode: bool = False, stream: bool = False
) -> OpenAiResponder:
    """The responder on the fake, JSON mode and streaming as given."""
    config = attrs.evolve(llm_config(server.url), json_mode=json_mode, stream=stream)
    return OpenAiResponder(config, min_confidence=DEFAULT_MIN_CONFIDENCE)


async def collect(pieces: list[str], piece: str) -> None:
    """A text sink's body: keep the piece."""
    pieces.append(piece)


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
    assert "the event" not in system["content"]
    assert "[email] or [phone] replaces the visitor's personal data" in system["content"]
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
        (Script(content='{"answer": "Alle 17:3'), "the reply is not JSON"),
        (Script(content=json.dumps({"sources": []})), "the reply has no answer text"),
        (Script(content=json.dumps({"answer": "  "})), "the answer is empty"),
    ],
    ids=["429", "500", "503", "401", "malformed-body", "broken-object", "no-answer", "empty"],
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


def _message(content: object) -> bytes:
    """A completion body whose message content is ``content`` (of any JSON type)."""
    return json.dumps(
        {"choices": [{"message": {"role": "assistant", "content": content}}]}
    ).encode()


GARBAGE = {
    "string-body": Script(body=b'"hello"'),
    "list-body": Script(body=b"[]"),
    "empty-object": Script(body=b"{}"),
    "null-choices": Script(body=b'{"choices": null}'),
    "no-choices": Script(body=b'{"choices": []}'),
    "null-message": Script(body=b'{"choices": [{"message": null}]}'),
    "null-content": Script(body=_message(None)),
    "list-content": Script(body=_message([1, 2])),
    "object-content": Script(body=_message({"answer": 5})),
    "empty-text": Script(content=""),
    "blank-text": Script(content=" \n "),
    "json-null-text": Script(content="null"),
    "json-list-text": Script(content="[1,2]"),
    "json-number-answer": Script(content='{"answer": 5}'),
    "only-a-marker": Script(content="[orari]"),
}

STREAMED_GARBAGE = {
    "string-chunk": Script(events=['"hello"']),
    "list-chunk": Script(events=["[]"]),
    "empty-chunk": Script(events=["{}"]),
    "null-choices": Script(events=['{"choices": null}']),
    "string-choice": Script(events=['{"choices": ["x"]}']),
    "null-delta": Script(events=['{"choices": [{"delta": null}]}']),
    "list-content": Script(events=['{"choices": [{"delta": {"content": [1]}}]}']),
    "no-chunks": Script(events=[]),
    "json-null-text": Script(content="null"),
}


@pytest.mark.parametrize("script", GARBAGE.values(), ids=GARBAGE.keys())
async def test_a_completion_of_the_wrong_shape_is_an_external_service_error(
    server: FakeOpenAI, script: Script
) -> None:
    """A 200 body that is no usable completion raises ExternalServiceError, nothing else."""
    server.then(script)
    with pytest.raises(ExternalServiceError) as caught:
        await llm(server).answer(ask("a che ora aprite?"))
    assert caught.value.service == "llm"


@pytest.mark.parametrize("script", STREAMED_GARBAGE.values(), ids=STREAMED_GARBAGE.keys())
@pytest.mark.parametrize("json_mode", [True, False], ids=["json", "plain"])
async def test_a_stream_of_the_wrong_shape_is_an_external_service_error(
    server: FakeOpenAI, script: Script, json_mode: bool
) -> None:
    """Streamed chunks that are no completion chunks raise ExternalServiceError."""
    server.then(script)
    pieces: list[str] = []
    with pytest.raises(ExternalServiceError):
        await plain_llm(server, json_mode=json_mode, stream=True).answer(
            ask("a che ora aprite?"), on_text=lambda piece: collect(pieces, piece)
        )
    assert server.requests[0]["stream"] is True


@pytest.mark.parametrize("script", GARBAGE.values(), ids=GARBAGE.keys())
async def test_the_breaker_answers_a_wrong_shaped_completion_offline(
    server: FakeOpenAI, script: Script
) -> None:
    """Behind the breaker, a garbage completion gets the offline answer citing the KB item."""
    offline = KbResponder(DEFAULT_MIN_CONFIDENCE)
    breaker = BreakerResponder(llm(server), offline, failures_to_open=3)
    request = ask("a che ora aprite?")
    server.then(script)
    answer = await breaker.answer(request)
    assert answer == await offline.answer(request)
    assert answer.sources == ("orari",)
    assert len(server.requests) == 1
    assert breaker.status() is ResponderStatus.OK  # one failure does not open it


@pytest.mark.parametrize("json_mode", [True, False], ids=["json-mode-ignored", "plain-mode"])
async def test_a_plain_reply_cites_the_ids_in_brackets_and_drops_them(
    server: FakeOpenAI, json_mode: bool
) -> None:
    """Bracketed candidate ids are cited and removed; masks and unknown ids are not cited."""
    server.then(Script(content="Le scriviamo a [email]: apriamo alle 17:30 [orari, inventato]."))
    answer = await plain_llm(server, json_mode=json_mode).answer(ask("a che ora aprite?"))
    assert answer.text == "Le scriviamo a [email]: apriamo alle 17:30."
    assert answer.sources == ("orari",)
    assert answer.confidence >= DEFAULT_MIN_CONFIDENCE


async def test_a_plain_reply_without_markers_cites_the_candidate_it_repeats(
    server: FakeOpenAI,
) -> None:
    """With no marker, the candidate whose answer the reply mostly repeats is cited."""
    server.then(
        Script(
            content="Siamo aperti tutti i giorni dalle 17:30 alle 23:00, ultimo ingresso "
            "alle 22:30; la cassa apre alle 17:00 e il 24 e 31 dicembre si chiude alle 20:00."
        )
    )
    answer = await llm(server).answer(ask("a che ora aprite?"))
    assert answer.sources == ("orari",)
    assert answer.text.startswith("Siamo aperti")
    assert answer.confidence >= DEFAULT_MIN_CONFIDENCE


async def test_a_plain_reply_matching_no_candidate_cites_nothing(server: FakeOpenAI) -> None:
    """A plain reply that cites nothing and repeats no candidate has confidence 0."""
    server.then(Script(content="Non sono sicuro, mi dispiace: chieda pure a un operatore."))
    answer = await plain_llm(server).answer(ask("a che ora aprite?"))
    assert answer.text == "Non sono sicuro, mi dispiace: chieda pure a un operatore."
    assert answer.sources == ()
    assert answer.confidence == 0.0


async def test_without_json_mode_no_response_format_is_sent(server: FakeOpenAI) -> None:
    """json_mode off: no response_format; the prompt asks for bracketed ids; they are cited."""
    request = ask("a che ora aprite?")
    answer = await plain_llm(server).answer(request)
    body = server.requests[0]
    assert "response_format" not in body
    assert "square brackets, for example [item-id]" in body["messages"][0]["content"]
    assert "JSON object" not in body["messages"][0]["content"]
    assert answer.text == request.retrieved[0].item.answer
    assert answer.sources == ("orari",)


async def test_a_streamed_plain_reply_reaches_the_sink_without_its_marker(
    server: FakeOpenAI,
) -> None:
    """Plain text streams piece by piece; the trailing [id] marker is held back and dropped."""
    request = ask("a che ora aprite?")
    pieces: list[str] = []
    answer = await plain_llm(server, stream=True).answer(
        request, on_text=lambda piece: collect(pieces, piece)
    )
    assert "response_format" not in server.requests[0]
    assert len(pieces) > 3
    assert "".join(pieces) == answer.text == request.retrieved[0].item.answer
    assert not any("[" in piece for piece in pieces)
    assert answer.sources == ("orari",)
    assert (answer.input_tokens, answer.output_tokens) == (120, 30)


async def test_a_streamed_prose_reply_in_json_mode_is_the_answer(server: FakeOpenAI) -> None:
    """In JSON mode a streamed reply that is prose is still the answer, cited by its marker."""
    server.then(Script(content="Apriamo alle 17:30 [orari]."))
    pieces: list[str] = []
    answer = await plain_llm(server, json_mode=True, stream=True).answer(
        ask("a che ora aprite?"), on_text=lambda piece: collect(pieces, piece)
    )
    assert answer.text == "Apriamo alle 17:30."
    assert answer.sources == ("orari",)
    assert pieces == []


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64])
def test_the_stripper_gives_the_same_text_whatever_the_cuts(size: int) -> None:
    """Pieces add up to the whole reply's text; markers of known ids go, others stay."""
    raw = "  Scriviamo a [email] [a, b]: [x] ok [b]\n[non chiuso [a]  "
    whole = CitationStripper(["a", "b"])
    expected = whole.feed(raw) + whole.finish()
    assert expected == "Scriviamo a [email]: [x] ok\n[non chiuso"
    assert whole.cited == ["a", "b"]
    stripper = CitationStripper(["a", "b"])
    pieces = [stripper.feed(raw[i : i + size]) for i in range(0, len(raw), size)]
    assert "".join(pieces) + stripper.finish() == expected
    assert stripper.cited == ["a", "b"]


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
    """Each failure gets the offline answer; three open the breaker; a good trial closes it.

    While open the offline responder answers without the model being asked and status
    is DEGRADED; after the cool-down one trial goes to the model, and success closes it.
    """
    ticker = Ticker()
    offline = KbResponder(DEFAULT_MIN_CONFIDENCE)
    breaker = BreakerResponder(
        llm(server), offline, failures_to_open=3, cool_down=30, monotonic=ticker
    )
    request = ask("a che ora aprite?")
    expected = await offline.answer(request)
    server.then(*[Script(status=500)] * 3)
    for failures in range(1, 4):
        assert breaker.status() is ResponderStatus.OK
        assert await breaker.answer(request) == expected
        assert len(server.requests) == failures
    assert breaker.status() is ResponderStatus.DEGRADED
    assert await breaker.answer(request) == expected
    assert len(server.requests) == 3  # open: the model was not asked
    ticker.now += 31
    server.then(Script(status=500))
    assert await breaker.answer(request) == expected  # trial failed: offline answered
    assert breaker.status() is ResponderStatus.DEGRADED
    assert len(server.requests) == 4
    ticker.now += 31
    answer = await breaker.answer(request)  # trial succeeded
    assert answer.input_tokens == 120  # the model's answer, not the offline one
    assert breaker.status() is ResponderStatus.OK
    assert len(server.requests) == 5


async def test_a_success_resets_the_failure_count(server: FakeOpenAI) -> None:
    """Failures must be in a row to open the breaker: a good answer in between resets them."""
    breaker = BreakerResponder(llm(server), KbResponder(DEFAULT_MIN_CONFIDENCE), failures_to_open=2)
    request = ask("a che ora aprite?")
    server.then(Script(status=500), Script(), Script(status=500))
    for _ in range(3):
        assert (await breaker.answer(request)).sources == ("orari",)
    assert breaker.status() is ResponderStatus.OK
    server.then(Script(status=500))
    await breaker.answer(request)
    assert breaker.status() is ResponderStatus.DEGRADED


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
