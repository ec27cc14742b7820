"""The Responder port's contract: the offline responder and the LLM over a fake server.

Every responder answers from the retrieved items, cites only their ids, is unsure
(below the escalation threshold, no sources) when nothing was retrieved, and reports
its status. The LLM adapter talks real HTTP to `tests.fake_openai` on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lucine_adapters.kb import Bm25KnowledgeBase, sample_kb
from lucine_adapters.kb.bm25 import DEFAULT_MIN_CONFIDENCE
from lucine_adapters.llm import OpenAiResponder
from lucine_adapters.responders import KbResponder
from lucine_adapters.settings import LlmConfig
from lucine_core.enums import Language, ResponderStatus
from lucine_core.kb import AnswerRequest, RetrievedItem
from lucine_core.ports import Responder
from tests.fake_openai import FakeOpenAI, fake_openai

KB = Bm25KnowledgeBase(sample_kb())


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAI]:
    """One fake OpenAI-compatible server for the module."""
    with fake_openai() as fake:
        yield fake


def llm_config(url: str, **changes: float) -> LlmConfig:
    """A config pointing at the fake, no retries, a short timeout."""
    values: dict[str, float] = {"timeout": 5.0, "max_retries": 0} | changes
    return LlmConfig(
        model="fake-model",
        base_url=url,
        api_key="test-key",
        timeout=values["timeout"],
        max_retries=int(values["max_retries"]),
    )


@pytest.fixture(params=["offline", "llm"])
def responder(request: pytest.FixtureRequest, server: FakeOpenAI) -> Responder:
    """Each responder, the LLM one pointed at the fake."""
    server.scripts.clear()
    if request.param == "offline":
        return KbResponder(DEFAULT_MIN_CONFIDENCE)
    return OpenAiResponder(llm_config(server.url), min_confidence=DEFAULT_MIN_CONFIDENCE)


def ask(question: str, language: Language = Language.IT) -> AnswerRequest:
    """The request the core would send: the question with what retrieval found."""
    retrieved = KB.search_now(question, language=language, limit=3)
    return AnswerRequest(question=question, language=language, retrieved=retrieved)


@pytest.mark.parametrize(
    ("question", "language", "expected"),
    [
        ("a che ora aprite?", Language.IT, "orari"),
        ("dove posso parcheggiare?", Language.IT, "parcheggio"),
        ("how much is a ticket?", Language.EN, "en-prices"),
    ],
)
async def test_answers_from_the_best_item_and_cites_it(
    responder: Responder, question: str, language: Language, expected: str
) -> None:
    """A question the knowledge base answers gets that item's answer, cited, confidently."""
    request = ask(question, language)
    answer = await responder.answer(request)
    assert answer.sources == (expected,)
    item = next(hit.item for hit in request.retrieved if hit.item.id == expected)
    assert answer.text == item.answer
    assert answer.confidence >= DEFAULT_MIN_CONFIDENCE


async def test_cites_only_retrieved_items(responder: Responder) -> None:
    """Sources are always a subset of the retrieved ids."""
    for question in ("cani ammessi?", "biglietti ridotti bambini", "posso pagare con carta?"):
        request = ask(question)
        answer = await responder.answer(request)
        assert set(answer.sources) <= {hit.item.id for hit in request.retrieved}


async def test_with_nothing_retrieved_it_is_unsure(responder: Responder) -> None:
    """No items: no sources and a confidence below the threshold (so a human is offered)."""
    answer = await responder.answer(
        AnswerRequest(question="qual è la capitale della Francia?", language=Language.IT)
    )
    assert answer.sources == ()
    assert answer.confidence < DEFAULT_MIN_CONFIDENCE
    assert answer.text.strip()


async def test_a_weak_match_is_not_confident(responder: Responder) -> None:
    """An item retrieved with a low score does not make a confident answer by itself."""
    weak = RetrievedItem(item=sample_kb()[0], score=0.05)
    answer = await responder.answer(
        AnswerRequest(question="boh?", language=Language.IT, retrieved=[weak])
    )
    if answer.sources:
        # The model read the item and stood by it: allowed, at the threshold at least.
        assert answer.confidence >= DEFAULT_MIN_CONFIDENCE
    else:
        assert answer.confidence < DEFAULT_MIN_CONFIDENCE


def test_status_is_ok(responder: Responder) -> None:
    """A responder that has not failed reports OK."""
    assert responder.status() is ResponderStatus.OK
