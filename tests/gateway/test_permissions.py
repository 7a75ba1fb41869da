"""The authorisation matrix, generated from the permission table: every row (a concrete path per
row) x every kind of caller, through the running gateway, against the roles this file states
independently (`SPEC`, the issue's role list written out). A row added to the table without a
line here fails; so does a proxy prefix, an own route or a real upstream operation without a row.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from gateway import api
from gateway.keys import Keys as KeyLifecycle
from gateway.permissions import (
    BOUND,
    ROLES,
    ROUTES,
    Kind,
    Permission,
    Role,
    Route,
    allows,
    match,
    roles_allowed,
)
from gateway.routes import RULES, public_path, resolve
from gateway.store import GatewayStore
from shelter_kit.store import connect
from tests.gateway.conftest import ADMIN, assert_problem, issue
from tests.servers import ROOT, RedisServer

V = {"viewer", "staff", "admin"}  # read
CV = {"camera", *V}  # read; a camera key for its own cameras only
C = {"camera", "admin"}  # a camera key for its own cameras only
S = {"staff", "admin"}
A = {"admin"}
SPEC: dict[tuple[str, str], set[str]] = {
    ("PUT", "/api/v1/cameras/{camera_id}/frame"): C,
    ("GET", "/api/v1/cameras/{camera_id}"): CV,
    ("GET", "/api/v1/cameras"): V,
    ("POST", "/api/v1/cameras"): A,
    ("PUT", "/api/v1/cameras/{camera_id}"): A,
    ("PATCH", "/api/v1/cameras/{camera_id}"): A,
    ("DELETE", "/api/v1/cameras/{camera_id}"): A,
    ("GET", "/api/v1/cameras/{camera_id}/latest"): V,
    ("GET", "/api/v1/cameras/{camera_id}/latest.jpg"): V,
    ("GET", "/api/v1/frames/{frame_id}"): V,
    ("GET", "/api/v1/frames/{frame_id}/image"): V,
    ("GET", "/api/v1/frames"): A,
    ("GET", "/api/v1/frames/archive"): A,
    ("POST", "/api/v1/frames/redrive"): A,
    ("POST", "/api/v1/frames/{frame_id}/redrive"): A,
    ("GET", "/api/v1/outbox"): A,
    ("GET", "/api/v1/spaces"): V,
    ("GET", "/api/v1/spaces/{space_id}"): V,
    ("GET", "/api/v1/spaces/{space_id}/history"): V,
    ("GET", "/api/v1/spaces/{space_id}/frames"): V,
    ("GET", "/api/v1/summary"): V,
    ("GET", "/api/v1/animals"): V,
    ("GET", "/api/v1/animals/{animal_id}"): V,
    ("POST", "/api/v1/animals"): S,
    ("PUT", "/api/v1/animals/{animal_id}"): S,
    ("PATCH", "/api/v1/animals/{animal_id}"): S,
    ("DELETE", "/api/v1/animals/{animal_id}"): A,
    ("GET", "/api/v1/alerts"): V,
    ("POST", "/api/v1/alerts/{alert_id}/ack"): S,
    ("GET", "/api/v1/events"): V,
    ("GET", "/api/v1/classifier/models"): V,
    ("GET", "/api/v1/classifier/models/{name}"): V,
    ("POST", "/api/v1/classifier/predict"): S,
    ("POST", "/api/v1/classifier/predict/batch"): A,
    ("POST", "/api/v1/classifier/feedback"): S,
    ("GET", "/api/v1/classifier/models/{name}/versions"): V,
    ("GET", "/api/v1/classifier/models/{name}/versions/{version}"): V,
    ("PUT", "/api/v1/classifier/models/{name}/versions/{version}"): A,
    ("DELETE", "/api/v1/classifier/models/{name}/versions/{version}"): A,
    ("GET", "/api/v1/classifier/deployment"): A,
    ("PUT", "/api/v1/classifier/deployment"): A,
    ("POST", "/api/v1/classifier/deployment/promote"): A,
    ("POST", "/api/v1/classifier/deployment/rollback"): A,
    ("GET", "/api/v1/classifier/deployment/history"): A,
    ("GET", "/api/v2"): V,
    ("GET", "/api/v2/health/live"): V,
    ("GET", "/api/v2/health/ready"): V,
    ("GET", "/api/v2/models/{name}"): V,
    ("GET", "/api/v2/models/{name}/ready"): V,
    ("GET", "/api/v2/models/{name}/versions/{version}"): V,
    ("GET", "/api/v2/models/{name}/versions/{version}/ready"): V,
    ("POST", "/api/v2/models/{name}/infer"): S,
    ("POST", "/api/v2/models/{name}/versions/{version}/infer"): S,
    ("POST", "/api/v1/batch/jobs"): A,
    ("GET", "/api/v1/batch/jobs"): A,
    ("GET", "/api/v1/batch/jobs/{job_id}"): A,
    ("POST", "/api/v1/batch/jobs/{job_id}/cancel"): A,
    ("GET", "/api/v1/batch/jobs/{job_id}/events"): A,
    ("GET", "/api/v1/batch/jobs/{job_id}/results"): A,
    ("GET", "/api/v1/keys"): A,
    ("POST", "/api/v1/keys"): A,
    ("GET", "/api/v1/keys/{key_id}"): A,
    ("DELETE", "/api/v1/keys/{key_id}"): A,
    ("POST", "/api/v1/keys/{key_id}/rotate"): A,
    ("POST", "/api/v1/session"): V,  # the key in the body; a camera key cannot sign in
    ("GET", "/api/v1/session"): V,
    ("DELETE", "/api/v1/session"): V,
    ("GET", "/api/v1/links"): A,
    ("POST", "/api/v1/links"): A,
    ("DELETE", "/api/v1/links/{link_id}"): A,
}
SIGN_IN = ("POST", "/api/v1/session")
# Upstream operations the proxy table would expose but no row lets through, and why.
REFUSED_UPSTREAM: dict[tuple[str, str], str] = {}
CALLERS = ["no key", "wrong key", "expired key", "revoked key", "camera key, this camera",
           "camera key, other camera", "viewer", "staff", "admin"]  # fmt: skip
UNAUTHENTICATED = {"no key": "missing-api-key", "wrong key": "unknown-api-key",
                   "expired key": "expired-api-key", "revoked key": "unknown-api-key"}  # fmt: skip


@dataclass(frozen=True)
class Callers:
    secrets: dict[str, str | None]


def expired_key(redis: RedisServer, prefix: str) -> str:
    """A viewer key that expired an hour ago, issued through the key lifecycle itself."""

    async def make() -> str:
        client = connect(f"{redis.url}/2", decode_responses=True)
        try:
            lifecycle = KeyLifecycle(GatewayStore(client, prefix=prefix),
                                     clock=lambda: time.time() - 3600)  # fmt: skip
            _, secret = await lifecycle.issue(role=Role.VIEWER, cameras=(), label="expired",
                                              expires_in_s=60)  # fmt: skip
            return secret
        finally:
            await client.aclose()

    return asyncio.run(make())


@pytest.fixture(scope="module")
def callers(gateway: str, gateway_redis: RedisServer, key_prefix: str) -> Callers:
    revoked = issue(gateway, "staff")
    gone = httpx.delete(f"{gateway}/api/v1/keys/{revoked['id']}", headers={"X-API-Key": ADMIN})
    assert gone.status_code == 204
    return Callers({
        "no key": None,
        "wrong key": "sw_" + "x" * 32,
        "expired key": expired_key(gateway_redis, key_prefix),
        "revoked key": revoked["secret"],
        "camera key, this camera": issue(gateway, "camera", cameras=["cam-1"])["secret"],
        "camera key, other camera": issue(gateway, "camera", cameras=["cam-2"])["secret"],
        "viewer": issue(gateway, "viewer")["secret"],
        "staff": issue(gateway, "staff")["secret"],
        "admin": ADMIN,
    })  # fmt: skip


def concrete(route: Route, gateway: str) -> str:
    """A path for the row: cam-1 for a camera, a fresh key for a key id, a fresh viewer link
    for a link id, x1 for the rest."""
    path = route.pattern.replace("{camera_id}", "cam-1")
    if "{key_id}" in path:
        path = path.replace("{key_id}", issue(gateway, "viewer", label="matrix target")["id"])
    if "{link_id}" in path:
        made = httpx.post(gateway + "/api/v1/links", json={"name": "matrix target"},
                          headers={"X-API-Key": ADMIN}, timeout=10)  # fmt: skip
        path = path.replace("{link_id}", made.json()["id"])
    for segment in route.segments:
        if segment.startswith("{"):
            path = path.replace(segment, "x1")
    return path + ("?echo=1" if route.kind is Kind.STREAM else "")  # the echo, not a stream


def expected(route: Route, caller: str) -> set[str] | int:
    """401 for an unusable key, 403 for a role the SPEC leaves out, else the roles (2xx)."""
    if caller in UNAUTHENTICATED:
        return 401
    role = {"camera key, this camera": "camera", "camera key, other camera": "other"}.get(
        caller, caller
    )
    return {role} if role in SPEC[(route.method, route.pattern)] else 403


def body_for(route: Route) -> dict[str, Any]:
    if route.method in ("GET", "DELETE"):
        return {}
    if route.pattern == "/api/v1/keys":
        return {"json": {"role": "viewer", "label": "matrix"}}
    if route.pattern == "/api/v1/links":
        return {"json": {"name": "matrix"}}
    return {"json": {}}


def request_for(route: Route, secret: str | None) -> dict[str, Any]:
    """The key as a header; for sign-in, in the body (with the header every sign-in needs)."""
    if (route.method, route.pattern) == SIGN_IN:
        return {"headers": {"X-Requested-With": "shelter-watch"},
                "json": {"key": secret} if secret else {}}  # fmt: skip
    return {"headers": {"X-API-Key": secret} if secret else {}, **body_for(route)}


@pytest.fixture(scope="module")
def session(gateway: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway, timeout=10) as c:
        yield c


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.pattern}")
def test_matrix(session: httpx.Client, gateway: str, callers: Callers, route: Route, caller: str):
    path = concrete(route, gateway)
    session.cookies.clear()  # a sign-in's cookie would stand for its key on the next request
    response = session.request(route.method, path, **request_for(route, callers.secrets[caller]))
    want = expected(route, caller)
    if want == 401:
        assert_problem(response, 401, UNAUTHENTICATED[caller])
    elif want == 403:
        assert_problem(response, 403, "permission-denied")
    else:
        assert 200 <= response.status_code < 300, response.text
        if not route.own:  # it reached the upstream the proxy table names
            assert response.json()["service"] == resolve(path.split("?")[0]).rule.upstream


# What the dashboard's viewer and staff panels read (tests/browser drives them): a viewer link's
# session must see every one of them; the Models panel's deployment routes stay admin-only.
DASHBOARD_READS = ["/api/v1/spaces", "/api/v1/spaces/kennel-1",
                   "/api/v1/spaces/kennel-1/history", "/api/v1/alerts", "/api/v1/animals",
                   "/api/v1/animals/a1", "/api/v1/cameras", "/api/v1/cameras/cam-1",
                   "/api/v1/cameras/cam-1/latest", "/api/v1/frames/f1/image", "/api/v1/summary",
                   "/api/v1/events", "/api/v1/classifier/models", "/api/v1/session"]  # fmt: skip
MODELS_PANEL = ["/api/v1/classifier/deployment", "/api/v1/classifier/deployment/history"]


def test_the_dashboards_reads_are_viewer_reads_and_the_models_panel_is_admin_only():
    for path in DASHBOARD_READS:
        found = match("GET", path)
        assert found is not None, path
        assert found[0].permission is Permission.READ or found[0].pattern.endswith("{camera_id}"), (
            path
        )
        assert allows(Role.VIEWER, frozenset(), *found), path
    for path in MODELS_PANEL:
        found = match("GET", path)
        assert found is not None, path
        assert [r.value for r in roles_allowed(found[0])] == ["admin"], path


def test_the_table_states_the_spec():
    table = {(r.method, r.pattern): {role.value for role in roles_allowed(r)} for r in ROUTES}
    assert table == SPEC


def test_every_proxy_prefix_and_only_those_hold_the_proxied_rows():
    for rule in RULES:
        under = [r for r in ROUTES if not r.own and (r.pattern + "/").startswith(rule.public + "/")]
        assert under, f"proxy prefix {rule.public} has no permission row: nothing goes through"
    for route in ROUTES:
        path = route.pattern.replace("{", "x").replace("}", "")
        if route.own:
            with pytest.raises(Exception, match="no route"):
                resolve(path)
        else:
            resolve(path)  # under a prefix


def test_every_own_api_route_has_a_row():
    own = {
        (method, route.path)
        for router in (api.public, api.router)
        for route in router.routes
        if isinstance(route, APIRoute) and route.path.startswith("/api/")
        and route.path != "/api/{rest:path}"
        for method in route.methods or ()
    }  # fmt: skip
    assert own == {(r.method, r.pattern) for r in ROUTES if r.own}
    assert not [r for r in api.public.routes if getattr(r, "path", "").startswith("/api/")]


def upstream_documents() -> dict[str, dict[str, Any]]:
    """The real services' own OpenAPI documents (their apps built, not started)."""
    docs: dict[str, dict[str, Any]] = {}
    for service, package in (("camera-ingest", "camera_ingest"), ("classifier", "classifier"),
                             ("aggregator", "aggregator"), ("batch", "batch")):  # fmt: skip
        app = importlib.import_module(f"{package}.main").create_app()
        docs[service] = app.openapi()
    return docs


def test_every_public_upstream_operation_has_a_row():
    """A new upstream route under a public prefix fails here until it gets a row (or is
    refused on purpose in REFUSED_UPSTREAM)."""
    from gateway.permissions import documented

    missing = []
    for service, doc in upstream_documents().items():
        for path, item in doc["paths"].items():
            public = public_path(service, path)
            if public is None:
                continue
            for method in item:
                if method in ("get", "post", "put", "patch", "delete"):
                    key = (method.upper(), public)
                    if documented(method, public) is None and key not in REFUSED_UPSTREAM:
                        missing.append(key)
    assert not missing, f"upstream operations without a permission row: {missing}"


def doc_table() -> list[str]:
    """The role table as docs/security.md must show it."""

    def cell(role: Role, route: Route) -> str:
        grant = ROLES[role].get(route.permission)
        return "" if grant is None else ("own" if grant == BOUND else "yes")

    return [f"| {r.method} | `{r.pattern}` | " + " | ".join(cell(role, r) for role in Role)
            + f" | {r.kind.value} |" for r in ROUTES]  # fmt: skip


def test_docs_security_shows_the_table():
    methods = tuple(f"| {m} " for m in ("GET", "POST", "PUT", "PATCH", "DELETE"))
    text = (ROOT / "docs" / "security.md").read_text()
    shown = [line.rstrip() for line in text.splitlines() if line.startswith(methods)]
    table = doc_table()
    assert shown == table, "docs/security.md's table is stale; it should read:\n" + "\n".join(table)
