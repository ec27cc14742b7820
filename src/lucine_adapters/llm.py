"""The LLM responder: any OpenAI-compatible server (OpenAI, Ollama, llama.cpp, vLLM).

The retrieved knowledge-base items (the top candidates) go into the system prompt with
their ids. In JSON mode the model answers ``{"answer", "sources", "unsure"}``; without
it (``LlmConfig.json_mode`` off), or when a model ignores JSON mode and writes prose,
the reply is plain text citing the ids it used in square brackets (``... [orari]``).
Those markers are removed from the text shown; a plain reply citing nothing cites
the candidate whose answer it best repeats. Cited ids are checked against the
retrieved set (unknown ones dropped). The visitor's text and the history are masked
(`lucine_core.redact`) before anything leaves the process.

Confidence: 0 when the model says it is unsure or cites nothing it was given; otherwise
the best retrieval score among the items it cites, raised to at least the threshold
(the model read the item; retrieval only ranked it). So the core's escalation rules
apply exactly as they do to the offline responder.

Every failure (timeout, 429, 5xx, a wrong key, a refused connection, a body that is no
completion, an empty reply, JSON that is not the object asked for) is an
`ExternalServiceError`. `BreakerResponder` answers those requests with the offline
responder, and keeps to it while the server keeps failing.
"""

from __future__ import annotations

import json
import re
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from typing import Final

import attrs
import httpx2
import openai
from openai import AsyncOpenAI
from openai.types import CompletionUsage
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionMessageParam,
    completion_create_params,
)
from openai.types.chat.chat_completion_chunk import ChoiceDelta

from lucine_adapters.settings import LlmConfig
from lucine_core.enums import Language, ResponderStatus, Sender
from lucine_core.errors import ExternalServiceError
from lucine_core.kb import Answer, AnswerRequest, RetrievedItem, TextSink, Turn
from lucine_core.ports import Responder
from lucine_core.redact import mask_personal_data

__all__ = [
    "AnswerExtractor",
    "BreakerResponder",
    "CitationStripper",
    "OpenAiResponder",
    "system_prompt",
]

_SERVICE: Final = "llm"
_LANGUAGE_NAMES: Final = {Language.IT: "Italian", Language.EN: "English", Language.DE: "German"}
_JSON_FORMAT: Final = (
    "If the items do not answer the question, or it is about something else, do not "
    "guess: say briefly that you are not sure and set unsure to true.\n"
    "Reply with one JSON object and nothing else: "
    '{"answer": "<your reply>", "sources": ["<ids of the items you used>"], '
    '"unsure": <true or false>}.\n'
)
_PLAIN_FORMAT: Final = (
    "If the items do not answer the question, or it is about something else, do not "
    "guess: say briefly that you are not sure and cite no item.\n"
    "Reply with the answer text only, no JSON, and end it with the ids of the items "
    "you used, each in square brackets, for example [item-id].\n"
)


def system_prompt(config: LlmConfig, request: AnswerRequest) -> str:
    """The instructions and every retrieved item, each with its id."""
    items = "\n\n".join(
        f"[{hit.item.id}]\nQ: {hit.item.question}\nA: {hit.item.answer}"
        for hit in request.retrieved
    )
    language = _LANGUAGE_NAMES[request.language]
    return (
        f"You are the customer-support assistant of {config.shop_name}. Answer only "
        "questions about the shop or business, what it offers and how to use it, using "
        "only the knowledge-base items below. Reply in "
        f"{language}, in at most three short sentences, plain text without markup.\n"
        f"{_JSON_FORMAT if config.json_mode else _PLAIN_FORMAT}"
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


def _unusable(reason: str) -> ExternalServiceError:
    return ExternalServiceError(service=_SERVICE, reason=reason)


def _completion_text(completion: object) -> str:
    """The message content of a parsed completion, checked piece by piece.

    The SDK builds whatever a 200 body holds (a str, a list, a completion with holes).

    Raises:
        ExternalServiceError: it is not a completion with a text message.
    """
    if not isinstance(completion, ChatCompletion):
        raise _unusable("the reply is not a completion")
    choices = getattr(completion, "choices", None)
    if not isinstance(choices, list) or not choices:
        raise _unusable("the reply has no choices")
    content = getattr(getattr(choices[0], "message", None), "content", None)
    if not isinstance(content, str):
        raise _unusable("the reply has no text")
    return content


def _chunk_text(chunk: object) -> str:
    """The text a stream chunk adds ("" for a chunk with usage only).

    Raises:
        ExternalServiceError: it is not a completion chunk with text deltas.
    """
    if not isinstance(chunk, ChatCompletionChunk):
        raise _unusable("a stream chunk is not a completion chunk")
    choices = getattr(chunk, "choices", None)
    if not isinstance(choices, list):
        raise _unusable("a stream chunk has no choices")
    pieces: list[str] = []
    for choice in choices:
        delta = getattr(choice, "delta", None)
        if not isinstance(delta, ChoiceDelta):
            raise _unusable("a stream chunk has no delta")
        content = getattr(delta, "content", None)
        if content is not None and not isinstance(content, str):
            raise _unusable("a stream chunk has no text")
        pieces.append(content or "")
    return "".join(pieces)


def _usage(source: object) -> tuple[int, int] | None:
    """Input and output tokens, when the completion (or chunk) reports them."""
    usage = getattr(source, "usage", None)
    if not isinstance(usage, CompletionUsage):
        return None
    read = getattr(usage, "prompt_tokens", None)
    written = getattr(usage, "completion_tokens", None)
    if isinstance(read, int) and isinstance(written, int):
        return read, written
    return None


def _interpret(content: str, retrieved: Sequence[RetrievedItem], floor: float) -> Answer:
    """The answer in the model's reply: its JSON object, or else its plain text.

    A Markdown code fence around the object is tolerated. JSON that is not the object
    asked for is refused, and so is a broken object (text starting with ``{``); any
    other text is a plain-text answer.

    Raises:
        ExternalServiceError: the reply is empty, or JSON of the wrong shape.
    """
    text = content.strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    if not text:
        raise _unusable("the reply is empty")
    try:
        data = json.loads(text)
    except ValueError:
        if text.startswith("{"):
            raise _unusable("the reply is not JSON") from None
        return _plain_answer(text, retrieved, floor)
    return _json_answer(data, retrieved, floor)


def _json_answer(data: object, retrieved: Sequence[RetrievedItem], floor: float) -> Answer:
    if not isinstance(data, dict) or not isinstance(data.get("answer"), str):
        raise _unusable("the reply has no answer text")
    text = data["answer"].strip()
    if not text:
        raise _unusable("the answer is empty")
    scores = {hit.item.id: hit.score for hit in retrieved}
    cited = data.get("sources")
    cited_ids = [s for s in cited if isinstance(s, str)] if isinstance(cited, list) else []
    sources = tuple(dict.fromkeys(s for s in cited_ids if s in scores))
    confidence = _confidence(sources, retrieved, floor, unsure=data.get("unsure") is True)
    return Answer(text=text, sources=sources, confidence=confidence)


def _plain_answer(content: str, retrieved: Sequence[RetrievedItem], floor: float) -> Answer:
    """A plain-text reply: its ``[id]`` markers cited and removed, or the best overlap."""
    stripper = CitationStripper(hit.item.id for hit in retrieved)
    text = (stripper.feed(content) + stripper.finish()).strip()
    if not text:
        raise _unusable("the answer is empty")
    sources = tuple(stripper.cited)
    if not sources:
        echoed = _best_overlap(text, retrieved)
        sources = () if echoed is None else (echoed.item.id,)
    confidence = _confidence(sources, retrieved, floor, unsure=False)
    return Answer(text=text, sources=sources, confidence=confidence)


def _confidence(
    sources: Sequence[str], retrieved: Sequence[RetrievedItem], floor: float, *, unsure: bool
) -> float:
    scores = {hit.item.id: hit.score for hit in retrieved}
    best = max((scores[s] for s in sources), default=0.0)
    return 0.0 if unsure or not sources else max(floor, best)


# A candidate is cited by overlap when at least this share of its answer's content
# words (of four letters or more) appear in the reply.
_MIN_OVERLAP: Final = 0.5
_CONTENT_WORD: Final = re.compile(r"[^\W\d_]{4,}")


def _content_words(text: str) -> frozenset[str]:
    """Words of four letters or more, case and accents folded."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(char for char in folded if not unicodedata.combining(char))
    return frozenset(_CONTENT_WORD.findall(bare))


def _best_overlap(text: str, retrieved: Sequence[RetrievedItem]) -> RetrievedItem | None:
    """The candidate whose answer the reply repeats most (at least `_MIN_OVERLAP`)."""
    said = _content_words(text)
    best: tuple[float, float, RetrievedItem] | None = None
    for hit in retrieved:
        words = _content_words(hit.item.answer)
        if not words:
            continue
        share = len(words & said) / len(words)
        if share >= _MIN_OVERLAP and (best is None or (share, hit.score) > best[:2]):
            best = (share, hit.score, hit)
    return None if best is None else best[2]


class CitationStripper:
    """Removes ``[id]`` citation markers from plain text arriving in pieces.

    A marker is text in square brackets naming one or more of the given ids (separated
    by commas); its ids are collected in `cited` and it is removed, with the space
    before it. Other bracketed text (the ``[email]`` masks) is kept. Each `feed` returns
    the text safe to show so far: whitespace and an unclosed ``[`` at the end wait for
    the next piece; `finish` returns what is still held. Leading and trailing
    whitespace are dropped, so the pieces add up to the stripped text, however cut.
    """

    _LONGEST: Final = 200

    def __init__(self, ids: Iterable[str]) -> None:
        self._ids = frozenset(ids)
        self._held = ""
        self._started = False
        self.cited: list[str] = []

    def feed(self, piece: str) -> str:
        """Add the next piece of the reply; return the newly showable text."""
        self._held += piece
        out: list[str] = []
        while True:
            text, more = self._step()
            out.append(text)
            if not more:
                break
        return self._shown("".join(out))

    def finish(self) -> str:
        """The text still held at the end of the reply (without trailing whitespace)."""
        held, self._held = self._held, ""
        return self._shown(held.rstrip())

    def _shown(self, text: str) -> str:
        if not self._started:
            text = text.lstrip()
            self._started = bool(text)
        return text

    def _step(self) -> tuple[str, bool]:
        """Release text up to the next bracket; True when more may follow at once."""
        held = self._held
        opening = held.find("[")
        if opening < 0:
            kept = held.rstrip()
            self._held = held[len(kept) :]
            return kept, False
        before = held[:opening]
        kept = before.rstrip()
        closing = held.find("]", opening + 1)
        inner = held[opening + 1 : closing if closing >= 0 else len(held)]
        if "[" in inner or "\n" in inner or len(inner) > self._LONGEST:
            self._held = held[opening + 1 :]
            return before + "[", True
        if closing < 0:
            self._held = held[len(kept) :]
            return kept, False
        self._held = held[closing + 1 :]
        known = [part.strip() for part in inner.split(",") if part.strip() in self._ids]
        if not known:
            return held[: closing + 1], True
        self.cited.extend(i for i in known if i not in self.cited)
        return kept, True


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
            raise _unusable("unusable response (not JSON)") from error
        except (AttributeError, TypeError, KeyError) as error:  # the SDK on a strange body
            raise _unusable(f"unusable response ({type(error).__name__})") from error
        answer = _interpret(content, request.retrieved, self._floor)
        if usage is None:
            return answer
        return attrs.evolve(answer, input_tokens=usage[0], output_tokens=usage[1])

    def _format(self) -> completion_create_params.ResponseFormat | openai.Omit:
        return {"type": "json_object"} if self._config.json_mode else openai.omit

    async def _whole(self, request: AnswerRequest) -> tuple[str, tuple[int, int] | None]:
        completion: object = await self._client.chat.completions.create(
            model=self._config.model,
            messages=_messages(self._config, request),
            temperature=self._config.temperature,
            max_tokens=self._config.max_output_tokens,
            response_format=self._format(),
        )
        return _completion_text(completion), _usage(completion)

    async def _streamed(
        self, request: AnswerRequest, on_text: TextSink
    ) -> tuple[str, tuple[int, int] | None]:
        """The raw reply, its answer text passed to ``on_text`` as it arrives.

        In JSON mode that text is the ``"answer"`` string (nothing when the model writes
        prose instead); in plain mode it is the reply without its ``[id]`` markers.
        """
        stream = await self._client.chat.completions.create(
            model=self._config.model,
            messages=_messages(self._config, request),
            temperature=self._config.temperature,
            max_tokens=self._config.max_output_tokens,
            response_format=self._format(),
            stream=True,
            stream_options={"include_usage": True},
        )
        raw: list[str] = []
        extractor = AnswerExtractor()
        stripper = CitationStripper(hit.item.id for hit in request.retrieved)
        feed = extractor.feed if self._config.json_mode else stripper.feed
        usage: tuple[int, int] | None = None
        async with stream:
            async for chunk in stream:
                usage = _usage(chunk) or usage
                piece = _chunk_text(chunk)
                if not piece:
                    continue
                raw.append(piece)
                text = feed(piece)
                if text:
                    await on_text(text)
        rest = "" if self._config.json_mode else stripper.finish()
        if rest:
            await on_text(rest)
        return "".join(raw), usage

    def status(self) -> ResponderStatus:
        """OK: failures show as errors; `BreakerResponder` reports degradation."""
        return ResponderStatus.OK

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._client.close()


class BreakerResponder:
    """A circuit breaker: the primary (the LLM) while it works, the fallback while it fails.

    Closed: the primary answers; when it fails (`ExternalServiceError`) the failure is
    counted and the fallback (the offline responder) answers that request instead, so
    the visitor still gets the knowledge base's answer. After ``failures_to_open`` in a
    row the breaker opens: the fallback answers without asking the primary and status
    is DEGRADED. After ``cool_down`` seconds one request tries the primary again; success
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
        """The primary's answer; the fallback's while the breaker is open or the primary fails.

        Raises:
            Whatever the fallback raises (the offline responder does not fail).
        """
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
            return await self._fallback.answer(request)
        self._failures = 0
        self._open_until = None
        return answer

    def status(self) -> ResponderStatus:
        """DEGRADED while the breaker is open (or waiting for its trial request)."""
        return ResponderStatus.OK if self._open_until is None else ResponderStatus.DEGRADED
