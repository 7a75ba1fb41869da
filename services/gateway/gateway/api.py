"""Routes: the gateway's own endpoints and the one catch-all that proxies `/api/...`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import StreamingResponse

from gateway.auth import KeyStore, authorize, presented_key, split_query_key
from gateway.config import Settings
from gateway.errors import UpstreamsNotReady
from gateway.openapi import OpenApiCache, merge
from gateway.proxy import Proxy, UpstreamReply, outbound_headers, probe_ready, request_body
from gateway.ratelimit import RateLimiter
from gateway.routes import EVENTS_PATH, check_path, resolve
from gateway.schemas import Health, Readiness
from gateway.telemetry import Metrics

STATIC_DIR = Path(__file__).parent / "static"
PROXY_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
PUBLIC: dict[str, Any] = {"security": []}  # OpenAPI: no key needed


def _state(name: str) -> Any:
    def get(request: Request) -> Any:
        return getattr(request.app.state, name)

    return get


SettingsDep = Annotated[Settings, Depends(_state("settings"))]
ProxyDep = Annotated[Proxy, Depends(_state("proxy"))]
KeysDep = Annotated[KeyStore, Depends(_state("keys"))]
LimiterDep = Annotated[RateLimiter, Depends(_state("limiter"))]
MetricsDep = Annotated[Metrics, Depends(_state("metrics"))]
OpenApiDep = Annotated[OpenApiCache, Depends(_state("openapi"))]

router = APIRouter()


@router.get("/healthz", openapi_extra=PUBLIC)
async def healthz() -> Health:
    return Health()


@router.get("/readyz", openapi_extra=PUBLIC, responses={503: {"description": "not all ready"}})
async def readyz(request: Request, settings: SettingsDep) -> Readiness:
    upstreams = await probe_ready(
        request.app.state.client,
        request.app.state.upstreams,
        timeout_s=settings.ready_timeout_s,
        request_id=request.state.request_id,
    )
    if not all(status == "ready" for status in upstreams.values()):
        raise UpstreamsNotReady(upstreams)
    return Readiness(upstreams=upstreams)


@router.get("/metrics", openapi_extra=PUBLIC, response_class=Response)
async def metrics(registry: MetricsDep) -> Response:
    return Response(generate_latest(registry.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/openapi.json", include_in_schema=False)
async def openapi(request: Request, cache: OpenApiDep) -> JSONResponse:
    own = get_openapi(
        title="Shelter Watch API",
        version="1",
        routes=request.app.routes,
        description="Send an API key as `X-API-Key` or `Authorization: Bearer`.",
    )
    return JSONResponse(merge(own, await cache.documents(request.state.request_id)))


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
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    target = resolve(raw_path.decode("latin-1"))
    request.state.route, request.state.upstream = target.rule.public, target.rule.upstream
    headers = {k.lower(): v for k, v in request.headers.items()}
    query_key, query = split_query_key(request.url.query, allowed=target.rule.public == EVENTS_PATH)
    key = await authorize(keys, presented_key(headers, query_key), request.method, request.url.path)
    await limiter.acquire(key.name)
    client_ip = request.client.host if request.client else None
    reply = await proxy.open(
        target=target,
        method=request.method,
        query=query,
        headers=outbound_headers(
            headers,
            request_id=request.state.request_id,
            client_ip=client_ip,
            scheme=request.url.scheme,
        ),
        body=request_body(headers, request.stream(), settings.max_body_bytes),
    )
    return UpstreamResponse(reply)
