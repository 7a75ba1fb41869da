"""Routes: the public ones (ops, docs, dashboard), the key store, and the one catch-all that
proxies `/api/...`. Every `/api` request passes `gate.Gate` first (via `admitted`); every public
route charges its caller's address (via `anonymous`).

The ops routes are the gateway's own, not shelter-kit's: `/readyz` must be able to say "ready,
but degraded" (200 with `"redis": "degraded: ..."`), which the kit's `/readyz` cannot.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import BaseModel, ValidationError
from starlette.responses import StreamingResponse

from gateway.audit import PRINCIPAL
from gateway.auth import presented_key, split_query_key
from gateway.config import Profile, Settings
from gateway.fallback import StoreHealth
from gateway.gate import Gate
from gateway.keys import Keys, Principal
from gateway.openapi import OpenApiCache, merge
from gateway.permissions import Kind, Route
from gateway.proxy import Proxy, UpstreamReply, forwarded_headers, request_body
from gateway.readiness import UpstreamReadiness
from gateway.routes import EVENTS_PATH, check_path, resolve
from gateway.schemas import KeyCreated, KeyIn, KeyList, KeyOut
from gateway.store import GatewayStore
from shelter_kit.bodies import read_bounded
from shelter_kit.deps import from_state
from shelter_kit.handlers import problem_response
from shelter_kit.middleware import CLIENT_METHOD
from shelter_kit.ops import run_checks
from shelter_kit.problems import problem, problem_responses

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).parent / "static"
# No HEAD: shelter-kit answers HEAD through the GET route (the proxy forwards it as HEAD).
PROXY_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
M = TypeVar("M", bound=BaseModel)

SettingsDep = Annotated[Settings, Depends(from_state("settings"))]
ProxyDep = Annotated[Proxy, Depends(from_state("proxy"))]
GateDep = Annotated[Gate, Depends(from_state("gate"))]
KeysDep = Annotated[Keys, Depends(from_state("keys"))]
OpenApiDep = Annotated[OpenApiCache, Depends(from_state("openapi"))]
ReadinessDep = Annotated[UpstreamReadiness, Depends(from_state("readiness"))]
HealthDep = Annotated[StoreHealth, Depends(from_state("health"))]
StoreDep = Annotated[GatewayStore, Depends(from_state("store"))]
RegistryDep = Annotated[CollectorRegistry, Depends(from_state("registry"))]
ProfilesDep = Annotated[dict[Kind, Profile], Depends(from_state("profiles"))]


def _client(request: Request) -> str:
    return request.client.host if request.client else "-"


def _raw_path(request: Request) -> str:
    return (request.scope.get("raw_path") or request.url.path.encode()).decode("latin-1")


async def anonymous(request: Request, gate: GateDep) -> None:
    await gate.anonymous(_client(request))


@dataclass(frozen=True)
class Access:
    principal: Principal
    route: Route
    query: str  # the query to forward (without an api_key)


async def admitted(request: Request, gate: GateDep) -> Access:
    """Authenticate, rate-limit and authorise an `/api` request (see gate.py for the order)."""
    raw_path = _raw_path(request)
    check_path(request.url.path)  # the decoded path: %2e%2e is a dot segment too
    check_path(raw_path)
    query_key, query = split_query_key(request.url.query, allowed=raw_path == EVENTS_PATH)
    headers = {k.lower(): v for k, v in request.headers.items()}
    principal = await gate.authenticate(presented_key(headers, query_key), client=_client(request))
    setattr(request.state, PRINCIPAL, principal)  # for the audit line, refused or not
    method = getattr(request.state, CLIENT_METHOD, request.method)
    route = await gate.authorize(principal, method, raw_path)
    return Access(principal, route, query)


AccessDep = Annotated[Access, Depends(admitted)]
public = APIRouter(dependencies=[Depends(anonymous)])
router = APIRouter()


@public.get("/healthz", summary="Liveness", tags=["ops"])
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@public.get("/readyz", summary="Readiness", tags=["ops"], responses=problem_responses(503))
async def readyz(readiness: ReadinessDep, health: HealthDep, store: StoreDep) -> JSONResponse:
    """200 when every upstream is ready, even with Redis down (`"redis": "degraded: ..."`:
    the gateway still serves, on per-process limits); 503 when an upstream is not ready."""
    results = await run_checks(readiness.checks())
    results["redis"] = await health.check(store.check)
    failing = {n: r for n, r in results.items() if r != "ok" and not r.startswith("degraded")}
    if not failing:
        return JSONResponse({"status": "ready", "checks": results})
    detail = "; ".join(f"{name}: {reason}" for name, reason in failing.items())
    return problem_response(problem(503, "not-ready", detail, checks=results), {"Retry-After": "1"})


@public.get("/metrics", summary="Prometheus metrics", tags=["ops"], response_class=Response)
async def metrics(registry: RegistryDep) -> Response:
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


@public.get("/openapi.json", include_in_schema=False)
async def openapi(request: Request, cache: OpenApiDep) -> JSONResponse:
    return JSONResponse(merge(request.app.openapi(), await cache.documents()))


@public.get("/docs", include_in_schema=False)
async def docs() -> FileResponse:
    return FileResponse(STATIC_DIR / "docs.html")


@public.get("/", include_in_schema=False)
async def dashboard() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html")


async def _json_body(request: Request, model: type[M], limit: int) -> M:
    """A JSON body read within `limit` (413 past it), validated; a 422 lists at most the kit's
    20 errors however many there are (100,000 unknown fields earn a small answer)."""
    length = request.headers.get("content-length")
    raw = await read_bounded(request.stream(), limit=limit, content_length=length)
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from None


def _created(record_out: KeyOut, secret: str, status: int) -> JSONResponse:
    body = KeyCreated(**record_out.model_dump(), secret=secret).model_dump(mode="json")
    headers = {"Cache-Control": "no-store", "Location": f"/api/v1/keys/{record_out.id}"}
    return JSONResponse(body, status_code=status, headers=headers)


KEY_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {k: v for k, v in KeyIn.model_json_schema(
        ref_template="#/components/schemas/{model}").items() if k != "$defs"}}}}}  # fmt: skip
KEY_PROBLEMS = problem_responses(401, 403, 429, 503)


@router.get("/api/v1/keys", tags=["keys"], responses=KEY_PROBLEMS)
async def list_keys(access: AccessDep, keys: KeysDep) -> KeyList:
    now = time.time()
    return KeyList(keys=[KeyOut.of(r, now=now) for r in await keys.all()])


@router.post(
    "/api/v1/keys",
    status_code=201,
    tags=["keys"],
    response_model=KeyCreated,
    openapi_extra=KEY_BODY,
    responses=problem_responses(401, 403, 413, 422, 429, 503),
)
async def issue_key(
    request: Request, access: AccessDep, keys: KeysDep, settings: SettingsDep
) -> JSONResponse:
    """Issue a key; the answer holds its secret, shown this once (store it now)."""
    wanted = await _json_body(request, KeyIn, settings.max_json_bytes)
    record, secret = await keys.issue(
        role=wanted.role,
        cameras=tuple(wanted.cameras),
        label=wanted.label,
        expires_in_s=wanted.expires_in_s,
    )
    log.info("key issued", extra={"key_id": record.id, "role": record.role.value,
                                  "by": access.principal.key_id})  # fmt: skip
    return _created(KeyOut.of(record, now=time.time()), secret, 201)


@router.get("/api/v1/keys/{key_id}", tags=["keys"], responses=problem_responses(404))
async def get_key(key_id: str, access: AccessDep, keys: KeysDep) -> KeyOut:
    return KeyOut.of(await keys.get(key_id), now=time.time())


@router.delete("/api/v1/keys/{key_id}", status_code=204, tags=["keys"],
               responses={**KEY_PROBLEMS, **problem_responses(404)})  # fmt: skip
async def revoke_key(key_id: str, access: AccessDep, keys: KeysDep) -> Response:
    """Revoke a key: its secret fails on every gateway replica from the next request on."""
    await keys.revoke(key_id)
    log.info("key revoked", extra={"key_id": key_id, "by": access.principal.key_id})
    return Response(status_code=204)


@router.post("/api/v1/keys/{key_id}/rotate", tags=["keys"], response_model=KeyCreated,
             responses={**KEY_PROBLEMS, **problem_responses(404)})  # fmt: skip
async def rotate_key(key_id: str, access: AccessDep, keys: KeysDep) -> JSONResponse:
    """A new secret for the same id, role and cameras; the old secret stops working at once."""
    record, secret = await keys.rotate(key_id)
    log.info("key rotated", extra={"key_id": key_id, "by": access.principal.key_id})
    return _created(KeyOut.of(record, now=time.time()), secret, 200)


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
    request: Request, proxy: ProxyDep, gate: GateDep, profiles: ProfilesDep
) -> UpstreamResponse:
    raw_path = _raw_path(request)
    check_path(request.url.path)
    target = resolve(raw_path)  # 404 for a path under no public prefix, before any key
    request.state.route = target.rule.public  # shelter-kit's metrics label: the public prefix
    access = await admitted(request, gate)
    headers = {k.lower(): v for k, v in request.headers.items()}
    profile = profiles[access.route.kind]
    query = access.query
    reply = await proxy.open(
        target=target,
        profile=profile,
        method=getattr(request.state, CLIENT_METHOD, request.method),
        query=query,
        headers=forwarded_headers(
            headers,
            client_ip=request.client.host if request.client else None,
            scheme=request.url.scheme,
            public_uri=raw_path + (f"?{query}" if query else ""),  # never the api_key
            key_id=access.principal.key_id,
        ),
        body=request_body(headers, request.stream(), profile.max_body_bytes),
    )
    return UpstreamResponse(reply)
