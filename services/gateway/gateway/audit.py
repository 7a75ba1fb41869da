"""The audit log: one line on the `gateway.audit` logger for every request that may change
something (any method but GET and HEAD), proxied or the gateway's own, refused or not:

    {"logger": "gateway.audit", "msg": "audit", "key_id": "key_3f...", "role": "staff",
     "method": "POST", "path": "/api/v1/alerts/a-1/ack", "status": 200, "client": "10.0.0.7",
     "request_id": "..."}

`key_id` and `role` are null when no key was verified (a 401, or a 429 before verification).
The path is the one the client sent, without its query; the line never holds a key's secret
(the gate puts only the verified `Principal` in `scope["state"]["principal"]`).

Pure ASGI, installed inside shelter-kit's request middleware (so the line carries the request
id) and outside the exception handlers (so a refusal's status is the one the client got).
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.keys import Principal
from shelter_kit.middleware import CLIENT_METHOD

log = logging.getLogger("gateway.audit")
SAFE_METHODS = frozenset({"GET", "HEAD"})
PRINCIPAL = "principal"  # scope["state"] key the gate fills in


class AuditMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        method = state.get(CLIENT_METHOD, scope["method"])
        if method in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        status = 500  # unless a response starts: the kit's catch-all answers 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            principal: Principal | None = state.get(PRINCIPAL)
            raw = scope.get("raw_path") or scope["path"].encode()
            log.info(
                "audit",
                extra={
                    "key_id": principal.key_id if principal else None,
                    "role": principal.role.value if principal else None,
                    "method": method,
                    "path": raw.decode("latin-1").split("?", 1)[0],
                    "status": status,
                    "client": (scope.get("client") or ("-",))[0],
                },
            )
