"""Structured JSON logs with a request id, and Prometheus metrics at /metrics."""

from __future__ import annotations

import logging
import secrets
import sys
import time
from typing import Any

import structlog
from litestar import Request, Response, get
from litestar.datastructures import MutableScopeHeaders
from litestar.di import NamedDependency
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from lucine_core.enums import ResponderStatus
from lucine_core.kb import Answer, AnswerRequest, TextSink
from lucine_core.ports import Responder
from lucine_http.deps import App

__all__ = ["Metrics", "RequestLog", "TimedResponder", "configure_logging", "metrics_route"]


def configure_logging(level: str = "INFO") -> None:
    """JSON lines on stdout; the standard library's loggers go through the same renderer."""
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        # A logged exception carries its traceback as text, not a tuple's repr.
        structlog.processors.format_exc_info,
    ]
    structlog.configure(
        processors=[*processors, structlog.processors.JSONRenderer()],
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(),
            ],
            foreign_pre_chain=processors,
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)


class Metrics:
    """The app's Prometheus metrics, in a registry of its own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "lucine_http_requests_total",
            "HTTP requests by route, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "lucine_http_request_seconds",
            "HTTP request latency by route.",
            ["route"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.chats = Gauge("lucine_chats", "Chats by state.", ["state"], registry=self.registry)
        self.responder = Histogram(
            "lucine_responder_seconds",
            "Time the responder took to answer, by outcome.",
            ["outcome"],
            registry=self.registry,
            buckets=(0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.tokens = Counter(
            "lucine_llm_tokens",
            "Tokens the LLM read (input) and wrote (output).",
            ["kind"],
            registry=self.registry,
        )
        self.queue = Gauge(
            "lucine_queue_length", "Visitors waiting for a human.", registry=self.registry
        )


class TimedResponder:
    """Wraps the Responder port to record each answer's latency in the metrics."""

    def __init__(self, inner: Responder, metrics: Metrics) -> None:
        self._inner = inner
        self._metrics = metrics

    async def answer(self, request: AnswerRequest, *, on_text: TextSink | None = None) -> Answer:
        """Answer through the wrapped responder, timing it (failures too)."""
        started = time.perf_counter()
        outcome = "error"
        try:
            result = await self._inner.answer(request, on_text=on_text)
            outcome = "ok"
            if result.input_tokens or result.output_tokens:
                self._metrics.tokens.labels("input").inc(result.input_tokens)
                self._metrics.tokens.labels("output").inc(result.output_tokens)
            return result
        finally:
            self._metrics.responder.labels(outcome).observe(time.perf_counter() - started)

    def status(self) -> ResponderStatus:
        """The wrapped responder's status."""
        return self._inner.status()


_log = structlog.get_logger("lucine.http")
_ID_SIZES = (8, 64)


class RequestLog:
    """Gives each request an id (X-Request-ID), logs it, and counts it in the metrics."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Wrap one HTTP request."""
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        method = str(scope.get("method", ""))
        incoming = dict(scope.get("headers", [])).get(b"x-request-id", b"").decode("latin-1")
        # A caller's id is kept when it is short and plain, so it cannot forge log lines.
        request_id = incoming if _ID_SIZES[0] <= len(incoming) <= _ID_SIZES[1] else ""
        request_id = request_id if request_id.isalnum() else secrets.token_hex(8)
        started = time.perf_counter()
        status = 500

        async def send_wrapped(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableScopeHeaders.from_message(message)["X-Request-ID"] = request_id
            await send(message)

        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_wrapped)
        finally:
            elapsed = time.perf_counter() - started
            route = str(scope.get("path_template") or _route_of(scope))
            self.metrics.requests.labels(route, method, str(status)).inc()
            self.metrics.latency.labels(route).observe(elapsed)
            _log.info(
                "request",
                method=method,
                path=scope["path"],
                status=status,
                ms=round(elapsed * 1000, 1),
            )
            structlog.contextvars.unbind_contextvars("request_id")


def _route_of(scope: Scope) -> str:
    """A low-cardinality label: the path with ids cut off."""
    handler = scope.get("route_handler")
    paths = getattr(handler, "paths", None)
    return str(sorted(paths)[0]) if paths else "unmatched"


@get("/metrics", include_in_schema=False)
async def metrics_route(
    request: Request[Any, Any, Any], app: NamedDependency[App]
) -> Response[bytes]:
    """Prometheus text format; chats by state and queue length are read at scrape time."""
    metrics: Metrics = request.app.state.metrics
    async with app.services.uow(read_only=True) as uow:
        counts = await uow.sessions.count_by_status()
        waiting = len(await uow.queue.list_waiting())
    for state, count in counts.items():
        metrics.chats.labels(state.value).set(count)
    metrics.queue.set(waiting)
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
