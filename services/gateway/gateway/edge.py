"""What the gateway does to each request because it is the edge, before shelter-kit's request
middleware sees it (this wraps it, outermost):

- keeps the method the client sent in `scope["state"]["client_method"]`: the kit answers HEAD by
  running the GET route and dropping the body, and the proxy route then sees GET; with the
  client's method it forwards HEAD upstream as HEAD (the upstreams answer HEAD themselves)
  instead of fetching a whole body to drop it;
- drops a client's `X-Forwarded-Uri`: the kit trusts that header for problem `instance`s, which
  is right behind the gateway and wrong in front of it (the gateway sets its own when it
  forwards).

Our own lines until shelter-kit does both itself (an "edge" switch on `install` that ignores a
client's X-Forwarded-Uri, and the client's method kept in the scope state).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

CLIENT_METHOD = "client_method"
_FORWARDED_URI = b"x-forwarded-uri"


class EdgeMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope.setdefault("state", {})[CLIENT_METHOD] = scope["method"]
            headers = scope.get("headers", [])
            if any(name.lower() == _FORWARDED_URI for name, _ in headers):
                kept = [(n, v) for n, v in headers if n.lower() != _FORWARDED_URI]
                scope = {**scope, "headers": kept}
        await self.app(scope, receive, send)
