"""A cap on the bodies a route reads whole (JSON, forms, text, or no declared type) and on URLs.

A request target over `MAX_URL_CHARS` is a 414 problem. Past about 80 KB of request head,
uvicorn's HTTP parser (httptools) answers its own 400 text/plain before any app code runs.

FastAPI reads a JSON body in full before validating it, so without a cap a 50 MB body (or a
100,000-key object) sits in memory before the 422. Routes that stream big bodies (frames, images,
archives, model uploads) declare an image, multipart or binary type, bound their own reads
(`bodies`) and are left alone here. A declared Content-Length over the cap is a 413 before a byte
is read; a chunked one is a 413 as soon as it passes the cap.

Pure ASGI (as `middleware` is); `install()` puts it inside the request middleware, so the 413
carries the request id like every other problem.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shelter_kit.handlers import problem_response
from shelter_kit.problems import problem

CAPPED_TYPES = ("application/json", "application/x-www-form-urlencoded", "text/")
DEFAULT_MAX_BYTES = 4 * 1024 * 1024
MAX_URL_CHARS = 16_384


def capped(content_type: str) -> bool:
    """Whether a body of this media type is read whole by the route (and so capped here)."""
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind == "" or kind.endswith("+json") or kind.startswith(CAPPED_TYPES)


class BodyLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        target = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
        if target > MAX_URL_CHARS:
            detail = f"the URL is over the limit of {MAX_URL_CHARS} characters"
            await problem_response(problem(414, "uri-too-long", detail))(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        if not capped(headers.get(b"content-type", b"").decode("latin-1")):
            await self.app(scope, receive, send)
            return
        declared = headers.get(b"content-length", b"").decode("latin-1").strip()
        if declared.isdigit() and int(declared) > self.max_bytes:
            response = problem_response(problem(413, "content-too-large", self._detail()))
            await response(scope, receive, send)
            return
        await self.app(scope, self._counting(receive), send)

    def _detail(self) -> str:
        return f"request body is over the limit of {self.max_bytes} bytes"

    def _counting(self, receive: Receive) -> Receive:
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:  # FastAPI re-raises an HTTPException from a body read
                    raise HTTPException(413, self._detail())
            return message

        return counted
