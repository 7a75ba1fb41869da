"""Routes: the gateway's own endpoints and the one catch-all that proxies `/api/...`.

`/healthz`, `/readyz` and `/metrics` are shelter-kit's ops routes (installed in `main.py`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.responses import StreamingResponse

from gateway.auth import KeyStore, authorize, presented_key, split_query_key
from gateway.config import Settings
from gateway.openapi import OpenApiCache, merge
from gateway.proxy import Proxy, UpstreamReply, forwarded_headers, request_body
from gateway.ratelimit import RateLimiter
from gateway.routes import EVENTS_PATH, check_path, resolve
from shelter_kit.deps import from_state
from shelter_kit.middleware import CLIENT_METHOD

STATIC_DIR = Path(__file__).parent / "static"
# No HEAD: shelter-kit answers HEAD through the GET route (the proxy forwards it as HEAD).
PROXY_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

SettingsDep = Annotated[Settings, Depends(from_state("settings"))]
ProxyDep = Annotated[Proxy, Depends(from_state("proxy"))]
KeysDep = Annotated[KeyStore, Depends(from_state("keys"))]
LimiterDep = Annotated[RateLimiter, Depends(from_state("limiter"))]
OpenApiDep = Annotated[OpenApiCache, Depends(from_state("openapi"))]

router = APIRouter()


@router.get("/openapi.json", include_in_schema=False)
async def openapi(request: Request, cache: OpenApiDep) -> JSONResponse:
    return JSONResponse(merge(request.app.openapi(), await cache.documents()))


@router.get("/docs", include_in_schema=False)
async def docs() -> FileResponse:
    return FileResponse(STATIC_DIR / "docs.html")


@router.get("/", include_in_schema=False)
async def dashboard() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html")


class UpstreamResponse(StreamingResponse):
    """Streams an upstream reply chunk by chunk and always closes the upstream connection."""

    def __init__(self, reply: UpstreamReply) -> None:
        headers = dict(reply.headers)
        if headers.get("content-type", "").startswith("text/event-stream"):
            headers["x-accel-buffering"] = "no"
        super().__init__(reply.body(), reply.status, headers)
        self.reply = reply

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.reply.aclose()


@router.api_route("/api/{rest:path}", methods=PROXY_METHODS, include_in_schema=False)
async def forward(
    request: Request, settings: SettingsDep, proxy: ProxyDep, keys: KeysDep, limiter: LimiterDep
) -> UpstreamResponse:
    check_path(request.url.path)
    raw_path = (request.scope.get("raw_path") or request.url.path.encode()).decode("latin-1")
    target = resolve(raw_path)
    request.state.route = target.rule.public  # shelter-kit's metrics label: the public prefix
    method = getattr(request.state, CLIENT_METHOD, request.method)
    headers = {k.lower(): v for k, v in request.headers.items()}
    query_key, query = split_query_key(request.url.query, allowed=target.rule.public == EVENTS_PATH)
    key = await authorize(keys, presented_key(headers, query_key), method, request.url.path)
    await limiter.acquire(key.name)
    reply = await proxy.open(
        target=target,
        method=method,
        query=query,
        headers=forwarded_headers(
            headers,
            client_ip=request.client.host if request.client else None,
            scheme=request.url.scheme,
            public_uri=raw_path + (f"?{query}" if query else ""),  # never the api_key
        ),
        body=request_body(headers, request.stream(), settings.max_body_bytes),
    )
    return UpstreamResponse(reply)
