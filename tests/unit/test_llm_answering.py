"""The LLM responder inside the product: settings, a visitor's chat, health, a real server.

The model is `tests.fake_openai`, a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import attrs
import httpx
import pytest
from litestar.testing import TestClient

from lucine_adapters.bootstrap import bootstrap
from lucine_adapters.kb.bm25 import DEFAULT_MIN_CONFIDENCE
from lucine_adapters.llm import BreakerResponder, OpenAiResponder
from lucine_adapters.responders import KbResponder
from lucine_adapters.settings import LOCAL_SERVER_KEY, Settings
from lucine_core.enums import EventType, ResponderStatus
from lucine_core.errors import ValidationError
from lucine_core.services import Services
from lucine_core.services.chat import poll, visitor_message
from lucine_core.services.common import session_channel
from lucine_http.app import create_app
from tests.contract.test_responder import llm_config
from tests.fake_openai import FakeOpenAI, Script, fake_openai
from tests.http_server import serve_process


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    """A fake OpenAI-compatible server for one test."""
    with fake_openai() as fake:
        yield fake


def with_llm(services: Services, server: FakeOpenAI, *, budget: int = 0) -> Services:
    """The services answering through the fake model behind the breaker."""
    llm = OpenAiResponder(llm_config(server.url), min_confidence=DEFAULT_MIN_CONFIDENCE)
    breaker = BreakerResponder(
        llm,
        KbResponder(DEFAULT_MIN_CONFIDENCE),
        failures_to_open=2,
        session_token_budget=budget,
    )
    return attrs.evolve(services, responder=breaker)


def test_settings_enable_the_llm_only_with_a_model(tmp_path: Any) -> None:
    """The LLM is configured by LUCINE_LLM_MODEL and checked.

    No model: offline. A model with a local base URL and no key: the placeholder key.
    A model for OpenAI without a key, or a bad URL or number, is refused naming it.
    """
    base = {"LUCINE_DATA_DIR": str(tmp_path)}
    assert Settings.from_env(base).llm is None
    local = Settings.from_env(
        base
        | {"LUCINE_LLM_MODEL": "llama3.1:8b", "LUCINE_LLM_BASE_URL": "http://127.0.0.1:11434/v1/"}
    ).llm
    assert local is not None
    assert (local.base_url, local.api_key) == ("http://127.0.0.1:11434/v1", LOCAL_SERVER_KEY)
    cloud = Settings.from_env(
        base
        | {
            "LUCINE_LLM_MODEL": "gpt-4o-mini",
            "OPENAI_API_KEY": "sk-test",
            "LUCINE_LLM_TIMEOUT": "8",
            "LUCINE_LLM_MAX_OUTPUT_TOKENS": "200",
            "LUCINE_LLM_SESSION_TOKEN_BUDGET": "5000",
            "LUCINE_LLM_STREAM": "true",
        }
    ).llm
    assert cloud is not None
    assert cloud.session_token_budget == 5000
    assert cloud.stream is True
    assert cloud.json_mode is True
    plain = Settings.from_env(
        base | {"LUCINE_LLM_MODEL": "m", "OPENAI_API_KEY": "k", "LUCINE_LLM_JSON_MODE": "false"}
    ).llm
    assert plain is not None
    assert plain.json_mode is False
    assert (cloud.base_url, cloud.api_key, cloud.timeout, cloud.max_output_tokens) == (
        None,
        "sk-test",
        8.0,
        200,
    )
    assert "sk-test" not in repr(cloud)
    bad = [
        ({"LUCINE_LLM_MODEL": "gpt-4o-mini"}, "LUCINE_LLM_API_KEY"),
        ({"LUCINE_LLM_MODEL": "m", "LUCINE_LLM_BASE_URL": "ftp://x"}, "LUCINE_LLM_BASE_URL"),
        (
            {"LUCINE_LLM_MODEL": "m", "OPENAI_API_KEY": "k", "LUCINE_LLM_TIMEOUT": "0"},
            "LUCINE_LLM_TIMEOUT",
        ),
        (
            {"LUCINE_LLM_MODEL": "m", "OPENAI_API_KEY": "k", "LUCINE_LLM_TEMPERATURE": "x"},
            "LUCINE_LLM_TEMPERATURE",
        ),
        (
            {"LUCINE_LLM_MODEL": "m", "OPENAI_API_KEY": "k", "LUCINE_LLM_JSON_MODE": "maybe"},
            "LUCINE_LLM_JSON_MODE",
        ),
    ]
    for env, field in bad:
        with pytest.raises(ValidationError) as caught:
            Settings.from_env(base | env)
        assert caught.value.field == field


def test_bootstrap_puts_the_llm_behind_the_breaker(tmp_path: Any) -> None:
    """Configured, the responder is the breaker over the LLM; otherwise the offline one."""
    base = {"LUCINE_DATA_DIR": str(tmp_path)}
    assert isinstance(bootstrap(Settings.from_env(base), in_memory=True).responder, KbResponder)
    env = base | {"LUCINE_LLM_MODEL": "m", "LUCINE_LLM_BASE_URL": "http://127.0.0.1:9/v1"}
    responder = bootstrap(Settings.from_env(env), in_memory=True).responder
    assert isinstance(responder, BreakerResponder)


async def test_a_visitor_is_answered_by_the_model_with_its_source(
    services: Services, server: FakeOpenAI
) -> None:
    """The model's answer reaches the visitor with the cited item.

    Its token usage is recorded on the kb_answer event.
    """
    services = with_llm(services, server)
    reply = await visitor_message(services, text="a che ora aprite?", session_id=None)
    assert reply.sources == ("orari",)
    assert reply.reply is not None
    assert "17:30" in reply.reply.text
    assert not reply.smart_actions
    assert len(server.requests) == 1
    async with services.uow() as uow:
        events = await uow.events.list(session_id=reply.session_id)
    answered = [e for e in events if e.type is EventType.KB_ANSWER]
    assert answered[0].payload.input_tokens == 120  # type: ignore[union-attr]
    assert answered[0].payload.output_tokens == 30  # type: ignore[union-attr]


async def test_a_failing_model_never_loses_the_message(
    services: Services, server: FakeOpenAI
) -> None:
    """A model failing with 500 costs the visitor nothing.

    The visitor's message is stored and the reply is the offline (knowledge-base)
    answer, not an apology; after two failures the breaker opens and the offline
    responder answers without the model being asked.
    """
    services = with_llm(services, server)
    server.then(Script(status=500), Script(status=500))
    first = await visitor_message(services, text="a che ora aprite?", session_id=None)
    assert first.sources == ("orari",)
    assert first.reply is not None
    assert "17:30" in first.reply.text
    assert "responder_failed" not in first.escalation_reasons
    history = await poll(services, session_id=first.session_id)
    assert history.messages[0].text == "a che ora aprite?"
    assert services.responder.status() is ResponderStatus.OK
    second = await visitor_message(
        services, text="dove si parcheggia?", session_id=first.session_id
    )
    assert second.sources == ("parcheggio",)
    assert services.responder.status() is ResponderStatus.DEGRADED
    third = await visitor_message(
        services, text="posso portare il cane?", session_id=first.session_id
    )
    assert third.sources == ("cani",)  # the offline responder, while the breaker is open
    assert len(server.requests) == 2
    async with services.uow() as uow:
        events = await uow.events.list(session_id=first.session_id)
    answered = [e.payload for e in events if e.type is EventType.KB_ANSWER]
    assert len(answered) == 3
    assert not any("responder_failed" in a.reasons for a in answered)  # type: ignore[union-attr]
    assert all(a.input_tokens == 0 for a in answered)  # type: ignore[union-attr]


def test_a_garbage_completion_gets_the_offline_answer_over_http(
    services: Services, server: FakeOpenAI
) -> None:
    """A 200 whose body is the JSON string "hello" gives a 2xx with the KB's answer, not 500."""
    services = with_llm(services, server)
    server.then(Script(body=b'"hello"'))
    with TestClient(create_app(services)) as client:
        response = client.post("/api/chat", json={"message": "a che ora aprite?"})
    assert 200 <= response.status_code < 300
    body = response.json()
    assert body["sources"] == ["orari"]
    assert "17:30" in body["reply"]
    assert not body["smartActions"]
    assert len(server.requests) == 1


async def test_a_chat_past_its_token_budget_is_answered_offline(
    services: Services, server: FakeOpenAI
) -> None:
    """A chat that spent its token budget gets offline answers; other chats do not.

    Each fake answer costs 150 tokens; with a budget of 200 the third message of the
    chat is answered offline, and a new chat gets the model again.
    """
    services = with_llm(services, server, budget=200)
    sid = (await visitor_message(services, text="a che ora aprite?", session_id=None)).session_id
    await visitor_message(services, text="dove si parcheggia?", session_id=sid)
    assert len(server.requests) == 2
    third = await visitor_message(services, text="posso portare il cane?", session_id=sid)
    assert third.sources == ("cani",)
    assert len(server.requests) == 2
    await visitor_message(services, text="posso portare il cane?", session_id=None)
    assert len(server.requests) == 3


async def test_a_streamed_reply_is_pushed_to_the_chat_then_stored_whole(
    services: Services, server: FakeOpenAI
) -> None:
    """A streamed reply reaches the chat's stream as it is written.

    With LUCINE_LLM_STREAM the chat's stream gets "delta" events adding up to the
    reply, then the stored message.
    """
    config = attrs.evolve(llm_config(server.url), stream=True)
    llm = OpenAiResponder(config, min_confidence=DEFAULT_MIN_CONFIDENCE)
    services = attrs.evolve(services, responder=llm)
    sid = (await visitor_message(services, text="ciao", session_id=None)).session_id
    listener = services.publisher.listen(session_channel(sid))
    await listener.ready()
    reply = await visitor_message(services, text="a che ora aprite?", session_id=sid)
    received = []
    while True:
        event = await asyncio.wait_for(anext(listener), timeout=2)
        received.append(event)
        if event.kind == "message" and event.data.get("seq") == reply.reply.seq:  # type: ignore[union-attr]
            break
    await listener.aclose()
    deltas = [str(e.data["text"]) for e in received if e.kind == "delta"]
    assert len(deltas) > 3
    assert reply.reply is not None
    assert "".join(deltas) == reply.reply.text


def test_health_shows_the_responder_degraded(services: Services, server: FakeOpenAI) -> None:
    """/metrics counts the model's tokens; /api/health shows a degraded responder.

    Degraded while the breaker is open; the service itself stays healthy.
    """
    services = with_llm(services, server)
    with TestClient(create_app(services)) as client:
        assert client.get("/api/health").json()["responder"] == "ok"
        client.post("/api/chat", json={"message": "a che ora aprite?"})
        metrics = client.get("/metrics").text
        assert 'lucine_llm_tokens_total{kind="input"} 120.0' in metrics
        assert 'lucine_llm_tokens_total{kind="output"} 30.0' in metrics
        server.then(Script(status=503), Script(status=503))
        for _ in range(2):
            client.post("/api/chat", json={"message": "a che ora aprite?"})
        body = client.get("/api/health").json()
    assert body["responder"] == "degraded"
    assert body["status"] == "healthy"


def test_lucine_serve_answers_through_a_configured_model(server: FakeOpenAI) -> None:
    """A real `lucine serve` with LUCINE_LLM_* pointed at the fake answers through it."""
    env = {"LUCINE_LLM_MODEL": "fake-model", "LUCINE_LLM_BASE_URL": server.url}
    with serve_process(admin=False, env=env) as running:
        response = httpx.post(
            f"{running.url}/api/chat", json={"message": "dove si parcheggia?"}, timeout=15
        )
    assert response.status_code == 200
    assert response.json()["sources"] == ["parcheggio"]
    assert server.requests[0]["model"] == "fake-model"
    assert server.headers[0]["authorization"] == f"Bearer {LOCAL_SERVER_KEY}"
