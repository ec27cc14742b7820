"""A small OpenAI-compatible chat-completions server on 127.0.0.1, scripted by tests.

It speaks chat completions, streamed (Server-Sent Events) when the request asks. By
default it behaves like an obedient model: it reads the knowledge-base items from
the system prompt and answers with the first one, citing its id (or says it is unsure
when there is none), in JSON when the request asks for JSON mode and in plain text
ending with ``[id]`` otherwise. Tests queue other behaviours: a given reply, an HTTP
error, a raw body (not JSON, or JSON that is no completion), raw stream events, a
delay longer than the client's timeout. Every request body is recorded.
"""

from __future__ import annotations

import json
import re
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any

import attrs

from tests.local_http import serve_locally

__all__ = ["FakeOpenAI", "Script", "fake_openai"]

_ITEM = re.compile(r"^\[([^\]\n]+)\]\nQ: .*\nA: (.*)$", re.MULTILINE)


@attrs.define(kw_only=True)
class Script:
    """One scripted response.

    Attributes:
        status: HTTP status to answer with.
        content: The model's message content (ignored when ``body`` is set).
        body: A raw response body instead of a completion.
        events: Raw ``data:`` payloads of a stream instead of the content's chunks
            (``[DONE]`` follows them); used when the request asks for a stream.
        delay: Seconds to wait before answering.
        headers: Extra response headers.
    """

    status: int = 200
    content: str | None = None
    body: bytes | None = None
    events: list[str] | None = None
    delay: float = 0.0
    headers: dict[str, str] = attrs.Factory(dict)


def _obedient(request: dict[str, Any]) -> str:
    messages: list[dict[str, Any]] = request.get("messages", [])
    system = next((m["content"] for m in messages if m["role"] == "system"), "")
    found = _ITEM.search(system)
    if "response_format" not in request:
        return "Non sono sicuro." if found is None else f"{found.group(2)} [{found.group(1)}]"
    if found is None:
        return json.dumps({"answer": "Non sono sicuro.", "sources": [], "unsure": True})
    return json.dumps({"answer": found.group(2), "sources": [found.group(1)], "unsure": False})


def completion(content: str, model: str) -> dict[str, Any]:
    """A chat-completion response body."""
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150},
    }


@attrs.define
class FakeOpenAI:
    """The running fake: its URL, the queued scripts, the requests it received."""

    url: str
    scripts: deque[Script] = attrs.Factory(deque)
    requests: list[dict[str, Any]] = attrs.Factory(list)
    headers: list[dict[str, str]] = attrs.Factory(list)

    def then(self, *scripts: Script) -> None:
        """Answer the next requests with these, in order (then obediently again)."""
        self.scripts.extend(scripts)


def _handler(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            fake.requests.append(body)
            fake.headers.append({k.lower(): v for k, v in self.headers.items()})
            script = fake.scripts.popleft() if fake.scripts else Script()
            if script.delay:
                time.sleep(script.delay)
            if script.events is not None and body.get("stream"):
                self._events(script.events)
                return
            if script.body is not None:
                payload = script.body
            elif script.status != 200:
                payload = json.dumps({"error": {"message": "scripted", "type": "x"}}).encode()
            else:
                content = script.content
                if content is None:
                    content = _obedient(body)
                if body.get("stream"):
                    self._stream(content, body.get("model", "fake"))
                    return
                payload = json.dumps(completion(content, body.get("model", "fake"))).encode()
            try:
                self.send_response(script.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in script.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

        def _events(self, events: list[str]) -> None:
            """Server-Sent Events: the raw payloads as given, then [DONE]."""
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for data in [*events, "[DONE]"]:
                self.wfile.write(f"data: {data}\n\n".encode())
            self.wfile.flush()
            self.close_connection = True

        def _stream(self, content: str, model: str) -> None:
            """Server-Sent Events: the content in 7-character pieces, usage, [DONE]."""
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": model}
            pieces = [content[i : i + 7] for i in range(0, len(content), 7)]
            for piece in pieces:
                chunk = base | {
                    "created": int(time.time()),
                    "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
                }
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
            usage = {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150}
            last = base | {"created": int(time.time()), "choices": [], "usage": usage}
            self.wfile.write(f"data: {json.dumps(last)}\n\ndata: [DONE]\n\n".encode())
            self.wfile.flush()
            self.close_connection = True

    return Handler


@contextmanager
def fake_openai() -> Iterator[FakeOpenAI]:
    """Run the fake on a free port of 127.0.0.1 for the duration of the block."""
    fake = FakeOpenAI(url="")
    with serve_locally(_handler(fake)) as base:
        fake.url = f"{base}/v1"
        yield fake
