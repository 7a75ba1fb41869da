"""App factory: wires settings, the httpx client, keys, limiter and OpenAPI cache onto app.state,
and maps every domain error to its status in one dict (`ERROR_STATUS`); anything else is a 500
problem+json (`on_unexpected_error`).

Run with `uvicorn gateway.main:create_app --factory`.
"""

from __future__ import annotations

import http
import logging
import math
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from gateway import api
from gateway.auth import StaticKeyStore, parse_api_keys
from gateway.config import Settings
from gateway.errors import (
    BadPath,
    BodyTooLarge,
    GatewayError,
    MissingApiKey,
    RateLimited,
    RouteNotFound,
    ScopeDenied,
    UnknownApiKey,
    UpstreamsNotReady,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from gateway.openapi import OpenApiCache
from gateway.proxy import Proxy, Upstream
from gateway.ratelimit import TokenBucketLimiter
from gateway.telemetry import Metrics, RequestContextMiddleware, configure_logging

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).parent / "static"

ERROR_STATUS: dict[type[GatewayError], int] = {
    BadPath: 400,
    MissingApiKey: 401,
    UnknownApiKey: 401,
    ScopeDenied: 403,
    RouteNotFound: 404,
    BodyTooLarge: 413,
    RateLimited: 429,
    UpstreamUnavailable: 502,
    UpstreamsNotReady: 503,
    UpstreamTimeout: 504,
}


def problem(
    request: Request,
    status: int,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: object,
) -> JSONResponse:
    body = {
        "type": "about:blank",
        "title": http.HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "request_id": getattr(request.state, "request_id", "-"),
        **extra,
    }
    return JSONResponse(body, status, headers=headers, media_type="application/problem+json")


async def on_gateway_error(request: Request, exc: Exception) -> JSONResponse:
    status = next((s for t, s in ERROR_STATUS.items() if isinstance(exc, t)), 502)
    headers: dict[str, str] = {}
    if isinstance(exc, RateLimited):
        headers["retry-after"] = str(max(1, math.ceil(exc.retry_after)))
    if status == 401:
        headers["www-authenticate"] = 'Bearer realm="shelter-watch"'
    extra = {"upstreams": exc.upstreams} if isinstance(exc, UpstreamsNotReady) else {}
    log.log(logging.WARNING if status >= 500 else logging.INFO, "%s: %s", status, exc)
    return problem(request, status, str(exc), headers, **extra)


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return problem(request, exc.status_code, str(exc.detail), dict(exc.headers or {}))


async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": e.get("loc"), "msg": e.get("msg")} for e in exc.errors()]
    return problem(request, 422, "request validation failed", errors=errors)


async def on_unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    """Any bug: a 500 problem (no traceback to the client); the traceback goes to the log."""
    request_id = getattr(request.state, "request_id", "-")
    log.error(
        "unhandled %s on %s %s",
        type(exc).__name__,
        request.method,
        request.url.path,
        exc_info=exc,
        extra={"request_id": request_id},  # this runs outside the request-id middleware
    )
    detail = f"internal error; quote request id {request_id}"
    return problem(request, 500, detail, {"x-request-id": request_id})


def _lifespan(settings: Settings) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        limits = httpx.Limits(max_connections=1000, max_keepalive_connections=100)
        async with httpx.AsyncClient(limits=limits, follow_redirects=False) as client:
            urls, timeouts = settings.upstream_urls(), settings.upstream_timeouts()
            upstreams = {n: Upstream(n, urls[n], timeouts[n]) for n in urls}
            app.state.client = client
            app.state.upstreams = upstreams
            app.state.proxy = Proxy(client, upstreams, settings.connect_timeout_s)
            app.state.openapi = OpenApiCache(
                client, urls, ttl_s=settings.openapi_ttl_s, timeout_s=settings.ready_timeout_s
            )
            log.info("gateway up", extra={"upstreams": urls})
            yield

    return lifespan


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()  # api_keys comes from the environment
    configure_logging(settings.log_level)
    keys = parse_api_keys(settings.api_keys.get_secret_value())  # fail fast on a bad entry
    app = FastAPI(
        title="Shelter Watch gateway",
        version="1",
        lifespan=_lifespan(settings),
        openapi_url=None,  # /openapi.json and /docs are the merged ones, served by api.py
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.keys = StaticKeyStore(keys)
    app.state.limiter = TokenBucketLimiter(
        rate=settings.rate_limit_rps, burst=settings.rate_limit_burst
    )
    app.state.metrics = Metrics()
    app.add_middleware(RequestContextMiddleware, metrics=app.state.metrics)
    app.add_exception_handler(GatewayError, on_gateway_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(Exception, on_unexpected_error)  # last resort: see above
    app.include_router(api.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
