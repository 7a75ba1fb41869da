"""JSON log lines: one object per line on stdout, uvicorn's own lines included.

Formatting is python-json-logger's (`pythonjsonlogger.json.JsonFormatter`): it is well kept,
handles extras, exceptions and non-JSON values, and saves us a formatter of our own. What this
module adds is the shelter's field names (`ts`, `level`, `logger`, `msg`, `service`,
`request_id`), the request id from the context, and one `configure_logging` that every service
calls the same way.

Noisy libraries are held at WARNING: httpx and httpcore log every request's full URL at INFO, and
a URL can carry credentials (a camera's snapshot URL).
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

from pythonjsonlogger.json import JsonFormatter

from shelter_kit.context import request_id_var, traceparent_var

QUIET_LOGGERS = ("httpx", "httpcore", "multipart", "PIL", "asyncio")
_RENAMES = {"asctime": "ts", "levelname": "level", "name": "logger", "message": "msg"}
_RESERVED_EXTRA = ("color_message", "taskName")  # uvicorn's copy of msg with ANSI colours


class _ContextFilter(logging.Filter):
    """Puts the request id (and trace id, when one came in) on every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        traceparent = traceparent_var.get()
        if traceparent and not hasattr(record, "trace_id"):
            record.trace_id = traceparent[3:35]
        return True


class ServiceJsonFormatter(JsonFormatter):
    """python-json-logger with the shelter's field names and the service's name on each line."""

    def __init__(self, service: str) -> None:
        reserved = [*logging.makeLogRecord({}).__dict__.keys(), "message", *_RESERVED_EXTRA]
        super().__init__(
            "{asctime}{levelname}{name}{message}",
            style="{",
            rename_fields=_RENAMES,
            static_fields={"service": service},
            reserved_attrs=reserved,
            json_ensure_ascii=False,
        )

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


def configure_logging(service: str, level: str = "INFO") -> None:
    """Every record as one JSON line on stdout. Idempotent: replaces only the kit's own handler,
    so handlers others installed (pytest's capture) keep working."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(ServiceJsonFormatter(service))
    handler.addFilter(_ContextFilter())
    root = logging.getLogger()
    kept = [h for h in root.handlers if not isinstance(h.formatter, ServiceJsonFormatter)]
    root.handlers[:] = [*kept, handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):  # uvicorn's startup lines as JSON too
        # (uvicorn's own dictConfig, run when a server starts, sets handlers and levels here)
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers, uvicorn_logger.propagate = [], True
        uvicorn_logger.disabled = False
        uvicorn_logger.setLevel(logging.NOTSET)
    access = logging.getLogger("uvicorn.access")  # the middleware logs each request itself
    access.handlers, access.propagate, access.disabled = [], False, True
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
