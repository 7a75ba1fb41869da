"""The request middleware every service runs, outermost, as pure ASGI (streams pass unbuffered).

Per request it:
- takes X-Request-ID (or makes one), a valid W3C `traceparent` and the gateway's X-Forwarded-Uri
  into the context (`context`), and echoes X-Request-ID on the response;
- answers HEAD wherever GET works (routes are declared for GET; the body is dropped here);
- records `http_requests_total` / `http_request_duration_seconds` per route template and logs
  one JSON `request` line;
- is the catch-all: an exception nothing handled becomes a 500 problem+json carrying the
  request id (Starlette's own last-resort handler runs outside this middleware, after the
  context is gone, and answers text/plain); a client that hung up mid-body is logged at INFO,
  not as an error.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shelter_kit import context
from shelter_kit.metrics import HttpMetrics
from shelter_kit.problems import PROBLEM_JSON, problem

log = logging.getLogger(__name__)
_ID_HEADER = context.REQUEST_ID_HEADER.encode()


def _route_label(scope: Scope) -> str:
    named = scope.get("state", {}).get("route")
    if named:
        return str(named)
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"


CLIENT_METHOD = "client_method"  # scope["state"] key: the method the client sent (HEAD stays HEAD)


class RequestContextMiddleware:
    """`trust_forwarded_uri`: True behind the gateway (it sets X-Forwarded-Uri); False at the
    edge, where a client's X-Forwarded-Uri would let it choose the `instance` of our problems."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: HttpMetrics,
        trust_forwarded_uri: bool = True,
        extend_problem: context.ProblemExtension | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.trust_forwarded_uri = trust_forwarded_uri
        self.extend_problem = extend_problem

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: dict[bytes, bytes] = {}
        for name, value in scope.get("headers", []):
            headers.setdefault(name.lower(), value)
        request_id = context.accept_request_id(_header(headers, context.REQUEST_ID_HEADER))
        forwarded_uri = (
            _header(headers, context.FORWARDED_URI_HEADER) if self.trust_forwarded_uri else None
        )
        tokens = (
            context.request_id_var.set(request_id),
            context.traceparent_var.set(
                context.accept_traceparent(_header(headers, context.TRACEPARENT_HEADER))
            ),
            context.public_path_var.set(
                context.accept_public_path(forwarded_uri) or scope.get("path")
            ),
            context.service_path_var.set(scope.get("path", "")),
            context.problem_extension_var.set(self.extend_problem),
        )
        method = scope["method"]
        state = scope.setdefault("state", {})
        state["request_id"], state[CLIENT_METHOD] = request_id, method
        head = method == "HEAD"
        if head:
            scope = {**scope, "method": "GET"}
        started, status, ended = time.perf_counter(), 0, False

        async def send_with_id(message: Message) -> None:
            nonlocal status, ended
            if message["type"] == "http.response.start":
                status = message["status"]
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() != _ID_HEADER]
                message = {**message, "headers": [*kept, (_ID_HEADER, request_id.encode())]}
            elif message["type"] == "http.response.body" and head:
                if ended:
                    return
                ended = True
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except ClientDisconnect:
            log.info("client disconnected before the request body was read")
            status = status or 499
        except Exception as exc:
            if status:  # the response had begun: nothing to answer, only to report
                log.exception("unhandled %s after the response started", type(exc).__name__)
                raise
            log.exception("unhandled %s on %s %s", type(exc).__name__, method, scope["path"])
            status = 500
            await _send_500(send_with_id, request_id)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_label(scope)
            self.metrics.observe(method, route, status, elapsed)
            log.info(
                "request",
                extra={
                    "method": method,
                    "path": scope["path"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(elapsed * 1e3, 2),
                },
            )
            context.request_id_var.reset(tokens[0])
            context.traceparent_var.reset(tokens[1])
            context.public_path_var.reset(tokens[2])
            context.service_path_var.reset(tokens[3])
            context.problem_extension_var.reset(tokens[4])


def _header(headers: dict[bytes, bytes], name: str) -> str | None:
    raw = headers.get(name.encode())
    return raw.decode("latin-1") if raw is not None else None


async def _send_500(send: Send, request_id: str) -> None:
    body: dict[str, Any] = problem(
        500, "internal-error", f"unexpected error; quote request id {request_id}"
    )
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload, "more_body": False})
