"""Routes: the public ones (ops, docs, dashboard), the key store, sign-in sessions, viewer
links, and the one catch-all that proxies `/api/...`. Every `/api` request passes `gate.Gate`
first (via `admitted`; sign-in via `_admit`, with the key or link from its body); every public
route charges its caller's address (via `anonymous`). A cookie's unsafe request (and every
sign-in) must carry `X-Requested-With: shelter-watch` (`auth.check_csrf`).

The ops routes are the gateway's own, not shelter-kit's: `/readyz` must be able to say "ready,
but degraded" (200 with `"redis": "degraded: ..."`), which the kit's `/readyz` cannot.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import BaseModel, ValidationError
from starlette.responses import StreamingResponse

from gateway.audit import PRINCIPAL
from gateway.auth import (
    CSRF_VALUE,
    SESSION_COOKIE,
    Credential,
    Via,
    check_csrf,
    presented,
    refuse_key_in_query,
)
from gateway.config import Profile, Settings
from gateway.errors import RouteNotFound
from gateway.fallback import StoreHealth
from gateway.gate import Gate
from gateway.keys import Keys, Principal
from gateway.links import LinkRecord, Links
from gateway.openapi import OpenApiCache, merge
from gateway.permissions import Kind, Route, methods_at
from gateway.proxy import Proxy, UpstreamReply, forwarded_headers, request_body
from gateway.readiness import UpstreamReadiness
from gateway.routes import check_path, resolve
from gateway.schemas import (
    KeyCreated,
    KeyIn,
    KeyList,
    KeyOut,
    LinkCreated,
    LinkIn,
    LinkList,
    LinkOut,
    SessionIn,
    SessionOut,
)
from gateway.sessions import Caller, Sessions
from gateway.store import GatewayStore
from shelter_kit.bodies import read_bounded
from shelter_kit.deps import from_state
from shelter_kit.docs import docs_page
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
SessionsDep = Annotated[Sessions, Depends(from_state("sessions"))]
LinksDep = Annotated[Links, Depends(from_state("links"))]
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
    credential: Credential | None  # how it came: a header key, the cookie, a sign-in body


def _headers(request: Request) -> dict[str, str]:
    return {k.lower(): v for k, v in request.headers.items()}


async def admitted(request: Request, gate: GateDep) -> Access:
    """Authenticate, rate-limit and authorise an `/api` request (see gate.py for the order)."""
    raw_path = _raw_path(request)
    check_path(request.url.path)  # the decoded path: %2e%2e is a dot segment too
    check_path(raw_path)
    refuse_key_in_query(request.url.query)
    return await _admit(request, gate, presented(_headers(request), request.cookies), raw_path)


async def _admit(
    request: Request, gate: Gate, credential: Credential | None, raw_path: str
) -> Access:
    principal = await gate.authenticate(credential, client=_client(request))
    setattr(request.state, PRINCIPAL, principal)  # for the audit line, refused or not
    method = getattr(request.state, CLIENT_METHOD, request.method)
    if credential is not None and credential.via is Via.SESSION:
        check_csrf(method, _headers(request))
    route = await gate.authorize(principal, method, raw_path)
    return Access(principal, route, credential)


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
async def docs() -> HTMLResponse:
    """Swagger UI over the merged document, from local files (shelter-kit's docs.py); "Try it
    out" sends the CSRF header, so a signed-in browser's cookie works as well as "Authorize"."""
    page = docs_page(title="Shelter Watch API", openapi_url="/openapi.json",
                     headers={"X-Requested-With": CSRF_VALUE})  # fmt: skip
    return HTMLResponse(page)


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


def _body_doc(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI requestBody of a route that reads its JSON itself (`_json_body`)."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schema = {k: v for k, v in schema.items() if k != "$defs"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


KEY_BODY = _body_doc(KeyIn)
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


SESSION_PATH, NO_STORE = "/api/v1/session", {"Cache-Control": "no-store"}
SESSION_PROBLEMS = problem_responses(401, 403, 413, 422, 429, 503)


def _session_body(caller: Caller) -> dict[str, Any]:
    expires = None if caller.expires_at is None else int(caller.expires_at)
    body = SessionOut(role=caller.role, name=caller.name, key_id=caller.key_id,
                      expires_at=expires, permissions=caller.permissions)  # fmt: skip
    return body.model_dump(mode="json")


@router.post("/api/v1/session", tags=["session"], response_model=SessionOut,
             openapi_extra={**_body_doc(SessionIn), "security": []},  # the key is in the body
             responses=SESSION_PROBLEMS)  # fmt: skip
async def sign_in(
    request: Request, gate: GateDep, sessions: SessionsDep, settings: SettingsDep
) -> JSONResponse:
    """Trade a key (or a viewer link's token) for the `sw_session` cookie (HttpOnly,
    SameSite=Strict). Needs `X-Requested-With: shelter-watch`. A camera key cannot sign in."""
    check_csrf(request.method, _headers(request))
    wanted = await _json_body(request, SessionIn, settings.max_json_bytes)
    credential = (Credential(Via.LINK, wanted.link) if wanted.link
                  else Credential(Via.KEY, wanted.key) if wanted.key else None)  # fmt: skip
    access = await _admit(request, gate, credential, SESSION_PATH)
    assert credential is not None  # _admit raised MissingApiKey otherwise
    if old := request.cookies.get(SESSION_COOKIE):
        await sessions.end(old)  # a second sign-in replaces the first
    begin = sessions.begin_with_link if credential.via is Via.LINK else sessions.begin_with_key
    token, caller = await begin(credential.value, access.principal)
    log.info("signed in", extra={"key_id": caller.key_id, "role": caller.role.value,
                                 "via": credential.via.value})  # fmt: skip
    response = JSONResponse(_session_body(caller), headers=NO_STORE)
    left = math.ceil((caller.expires_at or 0) - time.time())  # the TTL, or less to the key's end
    max_age = max(1, min(settings.session_ttl_s, left))
    response.set_cookie(SESSION_COOKIE, token, max_age=max_age, path="/", httponly=True,
                        samesite="strict", secure=settings.session_cookie_secure)  # fmt: skip
    return response


@router.get("/api/v1/session", tags=["session"], response_model=SessionOut,
            responses=problem_responses(401, 403, 429, 503))  # fmt: skip
async def who_am_i(access: AccessDep, sessions: SessionsDep) -> JSONResponse:
    """The caller's role, name, expiry and permissions (by its cookie or its X-API-Key)."""
    cred = access.credential
    if cred is not None and cred.via is Via.SESSION:
        record = await sessions.current(cred.value)
        caller = Caller(record.key_id, record.role, record.name, record.expires_at)
    else:
        caller = await sessions.describe(access.principal)
    return JSONResponse(_session_body(caller), headers=NO_STORE)


@router.delete("/api/v1/session", status_code=204, tags=["session"],
               responses=problem_responses(401, 403, 429, 503))  # fmt: skip
async def sign_out(access: AccessDep, sessions: SessionsDep, settings: SettingsDep) -> Response:
    """End the cookie's session (server-side too) and clear the cookie."""
    cred = access.credential
    if cred is not None and cred.via is Via.SESSION:
        await sessions.end(cred.value)
        log.info("signed out", extra={"key_id": access.principal.key_id})
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict",
                           secure=settings.session_cookie_secure)  # fmt: skip
    return response


def _link_out(record: LinkRecord) -> LinkOut:
    at, until = int(record.created_at), int(record.expires_at)
    return LinkOut(id=record.id, name=record.name, created_by=record.created_by,
                   created_at=at, expires_at=until)  # fmt: skip


@router.get("/api/v1/links", tags=["links"], responses=KEY_PROBLEMS)
async def list_links(access: AccessDep, links: LinksDep) -> LinkList:
    """The live viewer links (never their tokens)."""
    return LinkList(links=[_link_out(r) for r in await links.all()])


@router.post("/api/v1/links", status_code=201, tags=["links"], response_model=LinkCreated,
             openapi_extra=_body_doc(LinkIn),
             responses=problem_responses(401, 403, 413, 422, 429, 503))  # fmt: skip
async def create_link(
    request: Request, access: AccessDep, links: LinksDep, settings: SettingsDep
) -> JSONResponse:
    """A viewer link for a wall screen: its `url` (`/#link=<token>`) is shown this once."""
    wanted = await _json_body(request, LinkIn, settings.max_json_bytes)
    record, token = await links.create(name=wanted.name, ttl_s=wanted.ttl_s,
                                       by=access.principal.key_id)  # fmt: skip
    log.info("link created", extra={"link_id": record.id, "by": access.principal.key_id})
    body = LinkCreated(id=record.id, name=record.name, url=f"/#link={token}",
                       expires_at=int(record.expires_at))  # fmt: skip
    return JSONResponse(body.model_dump(mode="json"), status_code=201, headers=NO_STORE)


@router.delete("/api/v1/links/{link_id}", status_code=204, tags=["links"],
               responses={**KEY_PROBLEMS, **problem_responses(404)})  # fmt: skip
async def revoke_link(link_id: str, access: AccessDep, links: LinksDep) -> Response:
    """Revoke a link: every session made from it fails from its next request on."""
    await links.revoke(link_id)
    log.info("link revoked", extra={"link_id": link_id, "by": access.principal.key_id})
    return Response(status_code=204)


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
    try:
        target = resolve(raw_path)  # 404 for a path under no public prefix, before any key
    except RouteNotFound:
        if methods_at(raw_path):  # the gateway's own path, with a method it does not answer:
            await admitted(request, gate)  # 401 without a key, else the 405 with its Allow
        raise
    request.state.route = target.rule.public  # shelter-kit's metrics label: the public prefix
    access = await admitted(request, gate)
    headers = {k.lower(): v for k, v in request.headers.items()}
    profile = profiles[access.route.kind]
    query = request.url.query  # never a key: admitted refused any `api_key`
    reply = await proxy.open(
        target=target,
        profile=profile,
        method=getattr(request.state, CLIENT_METHOD, request.method),
        query=query,
        headers=forwarded_headers(
            headers,
            client_ip=request.client.host if request.client else None,
            scheme=request.url.scheme,
            public_uri=raw_path + (f"?{query}" if query else ""),
            key_id=access.principal.key_id,
        ),
        body=request_body(headers, request.stream(), profile.max_body_bytes),
    )
    return UpstreamResponse(reply)
