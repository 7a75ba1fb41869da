"""App factory: wires settings, Redis (the key store and the shared rate limits), the httpx
client, the gate, the proxy with a breaker per upstream, the readiness probe and the OpenAPI
cache onto app.state, and maps every domain error to its status in one dict (`ERROR_STATUS`).

shelter-kit does the rest (`shelter_kit.install`): JSON logs, the request context, problem+json
in the one dialect, the catch-all 500, HEAD and per-route HTTP metrics. The ops routes are the
gateway's own (api.py: its /readyz can say "degraded"); the audit middleware sits inside the
kit's, so its lines carry the request id. Run with `uvicorn gateway.main:create_app --factory`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry

import shelter_kit
from gateway import api
from gateway.audit import AuditMiddleware
from gateway.auth import Authenticator
from gateway.breaker import CircuitBreaker, State
from gateway.config import Settings
from gateway.errors import (
    BadPath,
    CsrfHeaderMissing,
    KeyInUrl,
    KeyNotFound,
    LinkNotFound,
    MethodNotAllowed,
    PermissionDenied,
    RateLimited,
    RouteNotFound,
    Unauthenticated,
    UpstreamCircuitOpen,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from gateway.fallback import StoreHealth
from gateway.gate import Gate
from gateway.keys import Keys
from gateway.links import Links
from gateway.metrics import GatewayMetrics
from gateway.openapi import OpenApiCache
from gateway.proxy import Proxy, Upstream
from gateway.ratelimit import Limiter, MemoryBuckets
from gateway.readiness import UpstreamReadiness
from gateway.sessions import Sessions
from gateway.store import GatewayStore
from shelter_kit.logs import configure_logging
from shelter_kit.store import connect

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).parent / "static"

# BodyTooLarge (413) and StoreUnavailable (503) are shelter-kit's and mapped by it.
ERROR_STATUS: dict[type[Exception], int] = {
    BadPath: 400,
    KeyInUrl: 400,
    Unauthenticated: 401,
    PermissionDenied: 403,
    CsrfHeaderMissing: 403,
    RouteNotFound: 404,
    KeyNotFound: 404,
    LinkNotFound: 404,
    MethodNotAllowed: 405,
    RateLimited: 429,
    UpstreamUnavailable: 502,
    UpstreamCircuitOpen: 503,
    UpstreamTimeout: 504,
}


def redacted(url: str) -> str:
    """A URL fit for a log line: scheme, host, port and path; never a user or password."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"


def _wire(app: FastAPI, settings: Settings, metrics: GatewayMetrics, store: GatewayStore) -> None:
    """The key store, sessions, viewer links, the limiter and the gate, on one Redis client."""
    health = StoreHealth(retry_s=settings.store_retry_s, metrics=metrics)
    bootstrap = settings.bootstrap_admin_key
    bootstrap_key = bootstrap.get_secret_value() if bootstrap else None
    authenticator = Authenticator(
        store, health, bootstrap_key=bootstrap_key, fallback_s=settings.keys_fallback_s
    )
    app.state.store, app.state.health, app.state.keys = store, health, Keys(store)
    app.state.links = Links(store)
    app.state.sessions = sessions = Sessions(
        store, app.state.links, health, ttl_s=settings.session_ttl_s, bootstrap_key=bootstrap_key
    )
    app.state.gate = Gate(
        authenticator=authenticator,
        sessions=sessions,
        limiter=Limiter(store, health, MemoryBuckets()),
        role_limits=settings.role_limits(),
        address_limit=settings.address_limit(),
        metrics=metrics,
    )


def _breakers(settings: Settings, metrics: GatewayMetrics) -> dict[str, CircuitBreaker]:
    def changed(upstream: str, state: State) -> None:
        metrics.upstream.breaker_open.labels(upstream).set(1 if state == "open" else 0)
        log.warning("circuit of upstream %s is %s", upstream, state)

    names = settings.upstream_urls()
    for name in names:
        metrics.upstream.breaker_open.labels(name).set(0)
    return {
        n: CircuitBreaker(n, failures=settings.breaker_failures,
                          reset_s=settings.breaker_reset_s, on_change=changed)
        for n in names
    }  # fmt: skip


def _lifespan(
    settings: Settings, metrics: GatewayMetrics
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis_url = settings.redis_url.get_secret_value()
        redis = connect(redis_url, timeout_s=settings.redis_timeout_s, decode_responses=True)
        limits = httpx.Limits(max_connections=1000, max_keepalive_connections=100)
        try:
            async with httpx.AsyncClient(limits=limits, follow_redirects=False) as client:
                _wire(app, settings, metrics, GatewayStore(redis, prefix=settings.key_prefix))
                urls = settings.upstream_urls()
                upstreams = {n: Upstream(n, url) for n, url in urls.items()}
                app.state.proxy = Proxy(
                    client,
                    upstreams,
                    _breakers(settings, metrics),
                    connect_timeout_s=settings.connect_timeout_s,
                    retries=settings.retry_attempts,
                    backoff_s=settings.retry_backoff_s,
                    metrics=metrics.upstream,
                )
                app.state.readiness = UpstreamReadiness(
                    client, upstreams, timeout_s=settings.ready_timeout_s
                )
                app.state.openapi = OpenApiCache(
                    client, urls, ttl_s=settings.openapi_ttl_s, timeout_s=settings.ready_timeout_s
                )
                log.info("gateway up", extra={
                    "upstreams": {n: redacted(u) for n, u in urls.items()},
                    "redis": redacted(redis_url), "key_prefix": settings.key_prefix,
                    "bootstrap_admin_key": settings.bootstrap_admin_key is not None,
                })  # fmt: skip
                yield
        finally:
            await redis.aclose()

    return lifespan


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()  # redis_url comes from the environment
    configure_logging("gateway", settings.log_level)
    registry = CollectorRegistry()  # one per app, so tests can build many apps in one process
    metrics = GatewayMetrics(registry)
    app = FastAPI(
        title="Shelter Watch API",
        version="1",
        description=(
            "Send an API key as `X-API-Key` or `Authorization: Bearer`, or sign in once "
            "(`POST /api/v1/session`) and let the `sw_session` cookie do it; a cookie's "
            "POST/PUT/PATCH/DELETE also needs `X-Requested-With: shelter-watch`. Each "
            "operation's `x-roles` lists the roles whose keys may call it (docs/security.md)."
        ),
        lifespan=_lifespan(settings, metrics),
        openapi_url=None,  # /openapi.json and /docs are the merged ones, served by api.py
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings, app.state.registry = settings, registry
    app.state.profiles = settings.profiles()
    app.add_middleware(AuditMiddleware)  # added first: it runs inside the kit's middleware
    # edge: the public door, so a client's X-Forwarded-Uri is not trusted
    shelter_kit.install(
        app, status_map=ERROR_STATUS, registry=registry, ops_routes=False, edge=True
    )
    app.include_router(api.public)
    app.include_router(api.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
