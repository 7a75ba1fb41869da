"""JSON log lines, the request-id context and middleware, and the Prometheus metrics.

Metric names follow Triton's (`nv_inference_*`), so dashboards built for Triton read this service.
Durations are histograms in seconds, named `..._seconds`; Triton's own are microsecond counters.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

SERVICE = "classifier"
REQUEST_ID_HEADER = "x-request-id"
_SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")
logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, service, request_id, plus extras."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "service": SERVICE,
            "request_id": request_id_var.get(),
        }
        line.update({k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS})
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(level: str) -> None:
    """Send every logger's records to stderr as JSON lines (idempotent)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):  # uvicorn.access: our middleware logs requests
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True


def accept_request_id(raw: str | None) -> str:
    """The caller's request id when it is a sane token, else a fresh one."""
    if raw and _SANE_ID.fullmatch(raw):
        return raw
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Binds X-Request-ID to the context, echoes it on the response, logs one line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = dict(scope["headers"]).get(REQUEST_ID_HEADER.encode())
        request_id = accept_request_id(raw.decode("latin-1") if raw else None)
        token = request_id_var.set(request_id)
        started, status = time.perf_counter(), 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (REQUEST_ID_HEADER.encode(), request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            logger.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            request_id_var.reset(token)


_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    """The service's Prometheus metrics, in their own registry (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        labels = ("model", "version")
        self.success = Counter(
            "nv_inference_request_success",
            "Inference requests that succeeded.",
            labels,
            registry=self.registry,
        )
        self.failure = Counter(
            "nv_inference_request_failure",
            "Inference requests that failed.",
            labels,
            registry=self.registry,
        )
        self.count = Counter(
            "nv_inference_count",
            "Images inferred (a batch of n counts n).",
            labels,
            registry=self.registry,
        )
        self.exec_count = Counter(
            "nv_inference_exec_count",
            "Model executions (batches run).",
            labels,
            registry=self.registry,
        )
        self.queue_seconds = Histogram(
            "nv_inference_queue_duration_seconds",
            "Time an image waited for the model.",
            labels,
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.compute_seconds = Histogram(
            "nv_inference_compute_infer_duration_seconds",
            "Model execution time per batch.",
            labels,
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "nv_inference_batch_size",
            "Images per model execution.",
            labels,
            buckets=(1, 2, 4, 8, 16, 32, 64),
            registry=self.registry,
        )
