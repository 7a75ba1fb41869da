"""JSON log lines carrying the request id, the request-id middleware, and Prometheus metrics."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

SERVICE = "aggregator"
log = logging.getLogger(__name__)
request_id: ContextVar[str] = ContextVar("request_id", default="-")
SANE_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "service": SERVICE,
            "request_id": request_id.get(),
        }
        line.update({k: v for k, v in vars(record).items() if k not in _RESERVED})
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(level: str) -> None:
    """JSON lines on stdout; idempotent, and leaves other handlers (pytest's) in place."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h.formatter, JsonFormatter)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):  # uvicorn's own lines as JSON too
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True


class Metrics:
    """One registry per app, so several apps (tests) never collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "aggregator_http_requests",
            "HTTP requests",
            ["method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "aggregator_http_request_seconds",
            "HTTP request time",
            ["method"],
            registry=self.registry,
        )
        self.observations = Counter(
            "aggregator_observations", "Observations received", ["outcome"], registry=self.registry
        )
        self.sse_clients = Gauge(
            "aggregator_sse_clients", "Open event streams", registry=self.registry
        )


class RequestContext:
    """Pure ASGI middleware (streams pass through untouched): request id in and out, metrics."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        rid = given if SANE_ID.match(given) else uuid.uuid4().hex
        token = request_id.set(rid)
        scope.setdefault("state", {})["request_id"] = rid
        started, method, status = time.perf_counter(), scope["method"], 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
                self.metrics.requests.labels(method, str(message["status"])).inc()
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            self.metrics.latency.labels(method).observe(elapsed)
            log.info(
                "request",
                extra={
                    "method": method,
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round(elapsed * 1e3, 2),
                },
            )
            request_id.reset(token)
