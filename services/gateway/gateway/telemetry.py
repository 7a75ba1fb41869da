"""JSON logs, the request-id context variable and middleware, and the Prometheus registry."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SERVICE = "gateway"
REQUEST_ID_HEADER = "x-request-id"
ID_BYTES = REQUEST_ID_HEADER.encode()
_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
log = logging.getLogger(__name__)
request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


def sane_request_id(candidate: str | None) -> str:
    """Keep a client's id if it is a sane token, else make a new one."""
    if candidate and _SANE_ID.match(candidate):
        return candidate
    return uuid.uuid4().hex


class JsonFormatter(logging.Formatter):
    _STD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "service": SERVICE,
            "request_id": request_id_var.get(),
        }
        line.update({k: v for k, v in vars(record).items() if k not in self._STD})
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(level: str) -> None:
    root = logging.getLogger()
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per proxied call is noise
    for name in ("uvicorn", "uvicorn.error"):  # uvicorn's own lines as JSON too
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True


class Metrics:
    """One registry per app, so tests can build many apps in one process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "gateway_requests_total",
            "Requests by route (public prefix), upstream, method and status.",
            ["route", "upstream", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "gateway_request_seconds",
            "Time to the end of the response, by route and upstream.",
            ["route", "upstream"],
            registry=self.registry,
        )


OWN_ROUTES = frozenset({"/", "/healthz", "/readyz", "/metrics", "/docs", "/openapi.json"})


def _own_route(path: str) -> str:
    """A low-cardinality metrics label for the gateway's own paths."""
    if path in OWN_ROUTES:
        return path
    return "/static" if path.startswith("/static/") else "unmatched"


class RequestContextMiddleware:
    """Sets X-Request-ID (scope state + context variable + response header) and records metrics.

    Pure ASGI, so streamed responses (SSE) pass through unbuffered. Handlers label the request by
    writing `route` and `upstream` into `scope["state"]`.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        request_id = sane_request_id(headers.get(REQUEST_ID_HEADER))
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        token = request_id_var.set(request_id)
        started, status = time.perf_counter(), 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                raw = [(k, v) for k, v in message.get("headers", []) if k.lower() != ID_BYTES]
                raw.append((ID_BYTES, request_id.encode()))
                message = {**message, "headers": raw}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = state.get("route") or _own_route(scope["path"])
            upstream = state.get("upstream", "-")
            log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "upstream": upstream,
                    "duration_ms": round((time.perf_counter() - started) * 1e3, 2),
                },
            )
            self.metrics.requests.labels(route, upstream, scope["method"], str(status)).inc()
            self.metrics.latency.labels(route, upstream).observe(time.perf_counter() - started)
            request_id_var.reset(token)
