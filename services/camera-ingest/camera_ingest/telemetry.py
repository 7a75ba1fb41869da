"""JSON log lines carrying the request id, the request-id middleware, and the Prometheus metrics."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

log = logging.getLogger(__name__)

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")
_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}


def sane_request_id(value: str | None) -> str:
    """The caller's id when it is a sane token, else a fresh one."""
    return value if value and _SANE_ID.match(value) else uuid.uuid4().hex


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "service": self.service,
            "request_id": request_id_var.get(),
        }
        line.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(service: str, level: str) -> None:
    """Once per process in effect: replaces our own handler, leaves others (pytest's) alone."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    others = [h for h in root.handlers if not isinstance(h.formatter, JsonFormatter)]
    root.handlers[:] = [*others, handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):  # uvicorn's own lines as JSON too
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True


Scope = dict[str, Any]


class RequestIdMiddleware:
    """Pure ASGI: takes X-Request-ID (or makes one), sets the context var, echoes it back."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        raw = headers.get(b"x-request-id")
        rid = sane_request_id(raw.decode("latin-1") if raw else None)
        token = request_id_var.set(rid)
        started, status = time.perf_counter(), 500

        async def send_with_id(message: Scope) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed_ms = round((time.perf_counter() - started) * 1e3, 2)
            log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": elapsed_ms,
                },
            )
            request_id_var.reset(token)


class Metrics:
    """One registry per app, so tests can build many apps in one process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.frames_accepted = Counter(
            "ingest_frames_accepted_total", "Frames persisted in the outbox", ["source"], registry=r
        )
        self.frames_duplicate = Counter(
            "ingest_frames_duplicate_total", "Uploads answered with an existing frame", registry=r
        )
        self.frames_rejected = Counter(
            "ingest_frames_rejected_total", "Frames refused", ["reason"], registry=r
        )
        self.frames_skipped = Counter(
            "ingest_frames_skipped_total", "Polled frames identical to the previous one", registry=r
        )
        self.deliveries = Counter(
            "ingest_deliveries_total", "Delivery outcomes", ["outcome"], registry=r
        )
        self.aggregator_conflicts = Counter(
            "ingest_aggregator_conflicts_total",
            "Frames the aggregator answered 409 for (stored before with another body)",
            registry=r,
        )
        self.downstream_calls = Counter(
            "ingest_downstream_calls_total",
            "Calls to downstreams",
            ["service", "result"],
            registry=r,
        )
        self.breaker_state = Gauge(
            "ingest_breaker_state", "0 closed, 1 half-open, 2 open", ["service"], registry=r
        )
        self.outbox_depth = Gauge("ingest_outbox_depth", "Frames not yet delivered", registry=r)
        self.outbox_oldest_age = Gauge(
            "ingest_outbox_oldest_age_seconds", "Age of the oldest undelivered frame", registry=r
        )
        self.outbox_pending = Gauge(
            "ingest_outbox_pending", "Frames taken by a worker, not yet acked", registry=r
        )
        self.outbox_dead = Gauge("ingest_outbox_dead", "Frames in the dead-letter set", registry=r)
        self.camera_online = Gauge(
            "ingest_camera_online", "1 online, 0 offline (polled cameras)", ["camera"], registry=r
        )
        self.polls = Counter("ingest_polls_total", "Snapshot fetches", ["result"], registry=r)
