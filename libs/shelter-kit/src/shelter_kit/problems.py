"""RFC 9457 problem details: ONE dialect for every service and the gateway.

- `type` is `https://shelter-watch.example/problems/<code>`; `<code>` is the kebab-case name of
  the domain error (`CameraNotFound` -> `camera-not-found`) or of the HTTP status for framework
  errors (`not-found`, `method-not-allowed`, `validation-error`, `internal-error`).
- `title` is the code in sentence case (`Camera not found`): one title per type.
- `instance` is the path the client called: the gateway's public path when the request came
  through it (X-Forwarded-Uri), else this service's own path.
- Every body carries `request_id`; extensions (`errors`, `checks`, ...) sit beside the members.

Framework-free, so domain code can build a problem for one item of a batch.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, ConfigDict

from shelter_kit.context import (
    problem_extension_var,
    public_path_var,
    request_id_var,
    service_path_var,
)

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://shelter-watch.example/problems/"
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def code_for_name(name: str) -> str:
    """`CameraNotFound` -> `camera-not-found`; `HTTPError` -> `http-error`."""
    return _CAMEL.sub("-", name).lower()


def code_for_status(status: int) -> str:
    """404 -> `not-found`; 422 -> `unprocessable-content`."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        return f"status-{status}"
    return re.sub(r"[^a-z0-9]+", "-", phrase.lower()).strip("-")


def title_for(code: str) -> str:
    """`camera-not-found` -> `Camera not found`."""
    words = code.replace("-", " ")
    return words[:1].upper() + words[1:]


def problem(
    status: int, code: str, detail: str, *, instance: str | None = None, **extensions: Any
) -> dict[str, Any]:
    """A problem body. `instance` defaults to the public path of the current request; the
    service's `extend_problem` hook (see `service.install`) may add members."""
    body: dict[str, Any] = {
        "type": TYPE_BASE + code,
        "title": title_for(code),
        "status": status,
        "detail": detail,
        "instance": instance or public_path_var.get() or "",
        "request_id": request_id_var.get(),
        **extensions,
    }
    extend = problem_extension_var.get()
    if extend is not None:
        body.update(extend(service_path_var.get(), body))
    return body


class Problem(BaseModel):
    """The documented shape of every error body (the OpenAPI documents reference it)."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str
    request_id: str


_DESCRIPTIONS = {
    400: "Bad request",
    401: "No API key, or a key that is not valid",
    403: "The key's role does not allow this",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflicts with the current state",
    413: "Body too large",
    414: "URL too long",
    415: "Unsupported media type",
    422: "The request does not validate",
    429: "Too many requests",
    500: "Unexpected error (quote the request id)",
    502: "An upstream failed",
    503: "Not ready or overloaded; retry after Retry-After seconds",
    504: "An upstream timed out",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the given statuses, each a problem+json body.

    The `Problem` schema itself is added to the document's components by `service.install`.
    """
    schema = {"$ref": "#/components/schemas/Problem"}
    return {
        status: {
            "description": _DESCRIPTIONS.get(status, code_for_status(status)),
            "content": {PROBLEM_JSON: {"schema": schema}},
        }
        for status in statuses
    }
