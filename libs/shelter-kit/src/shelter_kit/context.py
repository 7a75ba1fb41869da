"""What the current request carries across the code it calls: its id, its W3C trace context, and
the path the client called (the gateway passes it on, so problem `instance`s name it).

The middleware sets these; anything (a log formatter, an outbound HTTP call, a problem body)
reads them without the request object.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any

REQUEST_ID_HEADER = "x-request-id"
TRACEPARENT_HEADER = "traceparent"
# Traefik's name for the URI the client sent; the gateway sets it on every proxied request.
FORWARDED_URI_HEADER = "x-forwarded-uri"

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")
traceparent_var: ContextVar[str | None] = ContextVar("traceparent", default=None)
public_path_var: ContextVar[str | None] = ContextVar("public_path", default=None)
# the service's own path of the request (not the public one), for `ProblemExtension`s
service_path_var: ContextVar[str] = ContextVar("service_path", default="")

# A service's hook adding members to its problems: (its own request path, the body) -> members.
ProblemExtension = Callable[[str, dict[str, Any]], Mapping[str, Any]]
problem_extension_var: ContextVar[ProblemExtension | None] = ContextVar(
    "problem_extension", default=None
)

_SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
# version 00: 2 hex version, 32 hex trace id (not all zero), 16 hex parent id (not all zero), flags
_TRACEPARENT = re.compile(r"00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}")
_PUBLIC_PATH = re.compile(r"/[\x21-\x7e]{0,2047}")


def accept_request_id(raw: str | None) -> str:
    """The caller's request id when it is a sane token, else a fresh one."""
    if raw and _SANE_ID.fullmatch(raw):
        return raw
    return uuid.uuid4().hex


def accept_traceparent(raw: str | None) -> str | None:
    """A well-formed W3C traceparent (version 00), else None (never echo garbage onward)."""
    return raw if raw and _TRACEPARENT.fullmatch(raw) else None


def accept_public_path(raw: str | None) -> str | None:
    """The path part of X-Forwarded-Uri when it is a plain absolute path, else None."""
    if not raw:
        return None
    path = raw.split("?", 1)[0]
    return path if _PUBLIC_PATH.fullmatch(path) else None


def current_request_id() -> str:
    return request_id_var.get()


def outbound_headers(request_id: str | None = None) -> dict[str, str]:
    """Headers that carry this request's context into a call to another service.

    `request_id` overrides the context's (a background worker sends the id a frame came with).
    """
    rid = request_id or request_id_var.get()
    headers = {} if rid == "-" else {REQUEST_ID_HEADER: rid}
    traceparent = traceparent_var.get()
    if traceparent:
        headers[TRACEPARENT_HEADER] = traceparent
    return headers
