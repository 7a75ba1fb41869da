"""App factory: wires settings, the httpx client, keys, limiter, readiness probe and OpenAPI cache
onto app.state, and maps every domain error to its status in one dict (`ERROR_STATUS`).

shelter-kit does the rest (`shelter_kit.install`): JSON logs, the request context, problem+json
in the one dialect, the catch-all 500, HEAD, per-route HTTP metrics and `/healthz` `/readyz`
`/metrics`. Run with `uvicorn gateway.main:create_app --factory`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry

import shelter_kit
from gateway import api
from gateway.auth import StaticKeyStore, parse_api_keys
from gateway.config import Settings
from gateway.errors import (
    BadPath,
    RateLimited,
    RouteNotFound,
    ScopeDenied,
    Unauthenticated,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from gateway.metrics import UpstreamMetrics
from gateway.openapi import OpenApiCache
from gateway.proxy import Proxy, Upstream
from gateway.ratelimit import TokenBucketLimiter
from gateway.readiness import UpstreamReadiness
from shelter_kit.logs import configure_logging
from shelter_kit.ops import Check

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).parent / "static"

# BodyTooLarge (413) is shelter-kit's and mapped by it.
ERROR_STATUS: dict[type[Exception], int] = {
    BadPath: 400,
    Unauthenticated: 401,
    ScopeDenied: 403,
    RouteNotFound: 404,
    RateLimited: 429,
    UpstreamUnavailable: 502,
    UpstreamTimeout: 504,
}


def _lifespan(
    settings: Settings, metrics: UpstreamMetrics
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        limits = httpx.Limits(max_connections=1000, max_keepalive_connections=100)
        async with httpx.AsyncClient(limits=limits, follow_redirects=False) as client:
            urls, timeouts = settings.upstream_urls(), settings.upstream_timeouts()
            upstreams = {n: Upstream(n, urls[n], timeouts[n]) for n in urls}
            app.state.proxy = Proxy(
                client, upstreams, connect_timeout_s=settings.connect_timeout_s, metrics=metrics
            )
            app.state.readiness = UpstreamReadiness(
                client, upstreams, timeout_s=settings.ready_timeout_s
            )
            app.state.openapi = OpenApiCache(
                client, urls, ttl_s=settings.openapi_ttl_s, timeout_s=settings.ready_timeout_s
            )
            log.info("gateway up", extra={"upstreams": urls})
            yield

    return lifespan


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()  # api_keys comes from the environment
    configure_logging("gateway", settings.log_level)
    keys = parse_api_keys(settings.api_keys.get_secret_value())  # fail fast on a bad entry
    registry = CollectorRegistry()  # one per app, so tests can build many apps in one process
    app = FastAPI(
        title="Shelter Watch API",
        version="1",
        description="Send an API key as `X-API-Key` or `Authorization: Bearer`.",
        lifespan=_lifespan(settings, UpstreamMetrics(registry)),
        openapi_url=None,  # /openapi.json and /docs are the merged ones, served by api.py
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.keys = StaticKeyStore(keys)
    app.state.limiter = TokenBucketLimiter(
        rate=settings.rate_limit_rps, burst=settings.rate_limit_burst
    )

    def checks() -> Mapping[str, Check]:
        readiness: UpstreamReadiness | None = getattr(app.state, "readiness", None)
        return readiness.checks() if readiness else {"upstreams": _not_started}

    # edge: the public door, so a client's X-Forwarded-Uri is not trusted
    shelter_kit.install(app, status_map=ERROR_STATUS, registry=registry, checks=checks, edge=True)
    app.include_router(api.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


async def _not_started() -> str:
    return "the gateway is still starting"
