"""The LLM responder: any OpenAI-compatible server (OpenAI, Ollama, llama.cpp, vLLM).

The retrieved knowledge-base items go into the system prompt with their ids; the model
answers in JSON ``{"answer", "sources", "unsure"}``. Cited ids are checked against the
retrieved set (unknown ones dropped). The visitor's text and the history are masked
(`lucine_core.redact`) before anything leaves the process.

Confidence: 0 when the model says it is unsure or cites nothing it was given; otherwise
the best retrieval score among the items it cites, raised to at least the threshold
when the model is sure (the model read the item; retrieval only ranked it). So the
core's escalation rules apply exactly as they do to the offline responder.

Every failure (timeout, 429, 5xx, a wrong key, a refused connection, a reply that is
not the JSON asked for) is an `ExternalServiceError`; the core then gives the visitor a
polite fallback with the escalation actions, and `BreakerResponder` switches to the
offline responder while the server keeps failing.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from typing import Any, Final

import attrs
import httpx2
import openai
from openai import AsyncOpenAI
from openai.types import CompletionUsage
from openai.types.chat import ChatCompletionMessageParam

from lucine_adapters.settings import LlmConfig
from lucine_core.enums import Language, ResponderStatus, Sender
from lucine_core.errors import ExternalServiceError
from lucine_core.kb import Answer, AnswerRequest, RetrievedItem, TextSink, Turn
from lucine_core.ports import Responder
from lucine_core.redact import mask_personal_data

__all__ = ["AnswerExtractor", "BreakerResponder", "OpenAiResponder", "system_prompt"]

_SERVICE: Final = "llm"
_LANGUAGE_NAMES: Final = {Language.IT: "Italian", Language.EN: "English", Language.DE: "German"}


def system_prompt(config: LlmConfig, request: AnswerRequest) -> str:
    """The instructions and the retrieved items, each with its id."""
    items = "\n\n".join(
        f"[{hit.item.id}]\nQ: {hit.item.question}\nA: {hit.item.answer}"
        for hit in request.retrieved
    )
    language = _LANGUAGE_NAMES[request.language]
    return (
        f"You are the customer-support assistant of {config.shop_name}. Answer only "
        "questions about the event, its tickets, its shop and the visit, using only the "
        "knowledge-base items below. Reply in "
        f"{language}, in at most three short sentences, plain text without markup.\n"
        "If the items do not answer the question, or it is about something else, do not "
        "guess: say briefly that you are not sure and set unsure to true.\n"
        "Reply with one JSON object and nothing else: "
        '{"answer": "<your reply>", "sources": ["<ids of the items you used>"], '
        '"unsure": <true or false>}.\n'
        "Text in square brackets such as [email] or [phone] replaces the visitor's "
        "personal data; never ask for it again.\n\n"
        f"Knowledge-base items:\n{items or '(none found for this question)'}"
    )


def _messages(config: LlmConfig, request: AnswerRequest) -> list[ChatCompletionMessageParam]:
    turns: Sequence[Turn] = request.history[-config.history_turns :] if config.history_turns else ()
    messages: list[ChatCompletionMessageParam] = [
        {"role": "system", "content": system_prompt(config, request)}
    ]
    for turn in turns:
        text = mask_personal_data(turn.text)
        if turn.sender is Sender.USER:
            messages.append({"role": "user", "content": text})
        elif turn.sender is not Sender.SYSTEM:
            messages.append({"role": "assistant", "content": text})
    messages.append({"role": "user", "content": mask_personal_data(request.question)})
    return messages


def _failure(error: openai.OpenAIError) -> ExternalServiceError:
    if isinstance(error, openai.APITimeoutError):
        reason = "timed out"
    elif isinstance(error, openai.APIConnectionError):
        reason = "cannot connect"
    elif isinstance(error, openai.AuthenticationError):
        reason = "the API key was refused (401)"
    elif isinstance(error, openai.RateLimitError):
        reason = "rate limited (429)"
    elif isinstance(error, openai.APIStatusError):
        reason = f"HTTP {error.status_code}"
    else:
        reason = f"unusable response ({type(error).__name__})"
    return ExternalServiceError(service=_SERVICE, reason=reason)


def _parse(content: str | None) -> dict[str, Any]:
    """The model's JSON object (tolerating a Markdown code fence around it)."""
    text = (content or "").strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise ExternalServiceError(service=_SERVICE, reason="the reply is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("answer"), str):
        raise ExternalServiceError(service=_SERVICE, reason="the reply has no answer text")
    if not data["answer"].strip():
        raise ExternalServiceError(service=_SERVICE, reason="the answer is empty")
    return data


def _answer(data: dict[str, Any], retrieved: Sequence[RetrievedItem], floor: float) -> Answer:
    scores = {hit.item.id: hit.score for hit in retrieved}
    cited = data.get("sources")
    cited_ids = [s for s in cited if isinstance(s, str)] if isinstance(cited, list) else []
    sources = tuple(dict.fromkeys(s for s in cited_ids if s in scores))
    unsure = data.get("unsure") is True
    best = max((scores[s] for s in sources), default=0.0)
    confidence = 0.0 if unsure or not sources else max(floor, best)
    return Answer(text=data["answer"].strip(), sources=sources, confidence=confidence)


class AnswerExtractor:
    """Pulls the ``"answer"`` string out of a JSON object arriving in pieces.

    Each `feed` returns the answer text decoded so far that was not returned before,
    so a streamed reply can be shown while the model writes it. JSON escapes are
    decoded; an escape cut in half waits for its other half.
    """

    _KEY = re.compile(r'"answer"\s*:\s*"')

    def __init__(self) -> None:
        self._buffer = ""
        self._start: int | None = None
        self._done = False
        self._position = 0

    def feed(self, piece: str) -> str:
        """Add the next piece of the raw reply; return newly decoded answer text."""
        self._buffer += piece
        if self._done:
            return ""
        if self._start is None:
            found = self._KEY.search(self._buffer)
            if found is None:
                return ""
            self._start = self._position = found.end()
        out: list[str] = []
        text, i = self._buffer, self._position
        while i < len(text):
            char = text[i]
            if char == '"':
                self._done = True
                i += 1
                break
            if char != "\\":
                out.append(char)
                i += 1
                continue
            if i + 1 >= len(text):
                break
            escape = text[i + 1]
            if escape == "u":
                if i + 6 > len(text):
                    break
                out.append(chr(int(text[i + 2 : i + 6], 16)))
                i += 6
                continue
            out.append(_ESCAPES.get(escape, escape))
            i += 2
        self._position = i
        return "".join(out)


_ESCAPES: Final = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}


class OpenAiResponder:
    """The Responder port over chat completions of an OpenAI-compatible server.

    Args:
        config: Model, server and limits.
        min_confidence: The escalation threshold; a sure, cited answer scores at least it.
        client: A ready client (tests); by default one is built from ``config``.
    """

    def __init__(
        self, config: LlmConfig, *, min_confidence: float, client: AsyncOpenAI | None = None
    ) -> None:
        self._config = config
        self._floor = min_confidence
        self._client = client or AsyncOpenAI(
            api_key=config.api_key,
            base_url=config.base_url,
            timeout=config.timeout,
            max_retries=config.max_retries,
        )

    async def answer(self, request: AnswerRequest, *, on_text: TextSink | None = None) -> Answer:
        """Ask the model, grounded in ``request.retrieved``; cite only those ids.

        With ``config.stream`` and an ``on_text`` sink, the reply is streamed and the
        answer text passed to ``on_text`` as it arrives.

        Raises:
            ExternalServiceError: the server failed, timed out or replied unusably.
        """
        try:
            if self._config.stream and on_text is not None:
                content, usage = await self._streamed(request, on_text)
            else:
                content, usage = await self._whole(request)
        except openai.OpenAIError as error:
            raise _failure(error) from error
        except httpx2.HTTPError as error:  # the connection broke in the middle of a stream
            raise ExternalServiceError(service=_SERVICE, reason="cannot connect") from error
        except ValueError as error:  # a body that is not JSON (json.JSONDecodeError)
            raise ExternalServiceError(
                service=_SERVICE, reason="unusable response (not JSON)"
            ) from error
        answer = _answer(_parse(content), request.retrieved, self._floor)
        if usage is None:
            return answer
        return attrs.evolve(
            answer, input_tokens=usage.prompt_tokens, output_tokens=usage.completion_tokens
        )

    async def _whole(self, request: AnswerRequest) -> tuple[str | None, CompletionUsage | None]:
        completion = await self._client.chat.completions.create(
            model=self._config.model,
            messages=_messages(self._config, request),
            temperature=self._config.temperature,
            max_tokens=self._config.max_output_tokens,
            response_format={"type": "json_object"},
        )
        if not completion.choices:
            raise ExternalServiceError(service=_SERVICE, reason="the reply has no choices")
        return completion.choices[0].message.content, completion.usage

    async def _streamed(
        self, request: AnswerRequest, on_text: TextSink
    ) -> tuple[str | None, CompletionUsage | None]:
        stream = await self._client.chat.completions.create(
            model=self._config.model,
            messages=_messages(self._config, request),
            temperature=self._config.temperature,
            max_tokens=self._config.max_output_tokens,
            response_format={"type": "json_object"},
            stream=True,
            stream_options={"include_usage": True},
        )
        raw: list[str] = []
        extractor = AnswerExtractor()
        usage: CompletionUsage | None = None
        async with stream:
            async for chunk in stream:
                usage = chunk.usage or usage
                for choice in chunk.choices:
                    piece = choice.delta.content
                    if not piece:
                        continue
                    raw.append(piece)
                    text = extractor.feed(piece)
                    if text:
                        await on_text(text)
        return "".join(raw), usage

    def status(self) -> ResponderStatus:
        """OK: failures show as errors; `BreakerResponder` reports degradation."""
        return ResponderStatus.OK

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._client.close()


class BreakerResponder:
    """A circuit breaker: the primary (the LLM) while it works, the fallback while it fails.

    Closed: the primary answers; its failures are raised (the visitor gets the polite
    fallback with the escalation actions) and counted. After ``failures_to_open`` in a
    row the breaker opens: the fallback (the offline responder) answers and status is
    DEGRADED. After ``cool_down`` seconds one request tries the primary again; success
    closes the breaker, failure keeps it open for another ``cool_down``.

    A chat that has used ``session_token_budget`` model tokens (when not 0) is answered
    by the fallback from then on, whatever the breaker's state.
    """

    def __init__(
        self,
        primary: Responder,
        fallback: Responder,
        *,
        failures_to_open: int = 3,
        cool_down: float = 30.0,
        session_token_budget: int = 0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._primary = primary
        self._fallback = fallback
        self._failures_to_open = failures_to_open
        self._cool_down = cool_down
        self._budget = session_token_budget
        self._monotonic = monotonic
        self._failures = 0
        self._open_until: float | None = None

    async def answer(self, request: AnswerRequest, *, on_text: TextSink | None = None) -> Answer:
        """The primary's answer, or the fallback's while the breaker is open."""
        if self._budget and request.tokens_used >= self._budget:
            return await self._fallback.answer(request)
        if self._open_until is not None and self._monotonic() < self._open_until:
            return await self._fallback.answer(request)
        trial = self._open_until is not None
        try:
            answer: Answer = await self._primary.answer(request, on_text=on_text)
        except ExternalServiceError:
            self._failures += 1
            if trial or self._failures >= self._failures_to_open:
                self._open_until = self._monotonic() + self._cool_down
            if trial:
                return await self._fallback.answer(request)
            raise
        self._failures = 0
        self._open_until = None
        return answer

    def status(self) -> ResponderStatus:
        """DEGRADED while the breaker is open (or waiting for its trial request)."""
        return ResponderStatus.OK if self._open_until is None else ResponderStatus.DEGRADED
