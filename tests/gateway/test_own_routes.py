"""The gateway's own endpoints: health, readiness, metrics, merged OpenAPI, docs, dashboard (and
HEAD on each)."""

from __future__ import annotations

import html
import re
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from gateway.readiness import READY_CACHE_S
from tests.gateway.conftest import ADMIN, GatewayFactory, assert_problem
from tests.gateway.upstreams import Control
from tests.servers import wait_until


def test_healthz(client):
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_readyz_lists_every_upstream(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {
        "camera-ingest": "ok", "classifier": "ok", "aggregator": "ok", "batch": "ok",
        "redis": "ok"}}  # fmt: skip


def test_readyz_503_when_an_upstream_is_down(gateway_factory: GatewayFactory, dead_url):
    response = httpx.get(gateway_factory(classifier_url=dead_url) + "/readyz", timeout=10)
    body = assert_problem(response, 503, "not-ready")
    assert response.headers["retry-after"] == "1"
    assert body["checks"]["classifier"].startswith("unreachable")
    assert body["checks"]["aggregator"] == "ok"
    assert "classifier" in body["detail"]


@pytest.mark.parametrize("upstream", ["aggregator", "batch"])
def test_readyz_503_when_an_upstream_is_not_ready(
    gateway_factory: GatewayFactory, control, upstream
):
    url = gateway_factory()  # a fresh gateway: nothing cached yet
    control.not_ready.add(upstream)
    try:
        response = httpx.get(url + "/readyz", timeout=10)
    finally:
        control.not_ready.discard(upstream)
    body = assert_problem(response, 503, "not-ready")
    assert body["checks"][upstream] == "status 503"
    assert [n for n, check in body["checks"].items() if check != "ok"] == [upstream]


def test_readyz_flood_probes_each_upstream_once_per_second(
    gateway_factory: GatewayFactory, control: Control
):
    url = gateway_factory()
    control.readyz_hits.clear()
    started = time.monotonic()
    with httpx.Client(base_url=url, timeout=10) as c, ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(lambda _: c.get("/readyz").status_code, range(40)))
    rounds = 1 + int((time.monotonic() - started) / READY_CACHE_S)  # one per second at most
    assert statuses == [200] * 40
    assert set(control.readyz_hits) == {"camera-ingest", "classifier", "aggregator", "batch"}
    assert max(control.readyz_hits.values()) <= rounds < 40
    control.not_ready.add("classifier")  # seen once the cached round is older than a second
    try:
        wait_until(lambda: httpx.get(url + "/readyz", timeout=10).status_code == 503,
                   timeout=5, what="the gateway to probe again")  # fmt: skip
    finally:
        control.not_ready.discard("classifier")


def test_metrics_count_routes_and_upstreams(client):
    client.get("/api/v1/spaces/k1", headers={"X-API-Key": ADMIN})
    text = client.get("/metrics").text
    assert 'http_requests_total{method="GET",route="/api/v1/spaces",status="200"}' in text
    assert 'gateway_upstream_requests_total{outcome="2xx",upstream="aggregator"}' in text
    assert 'gateway_upstream_seconds_bucket{le="0.001",upstream="aggregator"}' in text
    assert "/api/v1/spaces/k1" not in text  # labels are prefixes, never raw paths


def test_head_on_own_routes(client):
    for path in ("/healthz", "/readyz", "/metrics", "/", "/docs", "/openapi.json"):
        response = client.head(path)
        assert response.status_code == 200, path
        assert response.content == b""


def test_merged_openapi_has_public_paths_of_every_upstream(client):
    doc = client.get("/openapi.json").json()
    paths = doc["paths"]
    assert "put" in paths["/api/v1/cameras/{camera_id}/frame"]
    assert "get" in paths["/api/v1/spaces/{space_id}"]
    assert "post" in paths["/api/v1/classifier/predict"]
    assert "post" in paths["/api/v2/models/{name}/infer"]
    assert set(paths["/api/v1/batch/jobs"]) == {"get", "post"}
    assert paths["/api/v1/batch/jobs"]["post"]["x-roles"] == ["admin"]
    assert paths["/api/v1/batch/jobs"]["post"]["tags"] == ["batch"]
    assert paths["/api/v1/batch/jobs/{job_id}/events"]["get"]["x-roles"] == ["admin"]
    assert not any(p.startswith("/v1") or p.startswith("/v2") for p in paths)
    assert "/api/v1/internal-only" not in paths
    assert not any(p.startswith("/api/v1/observations") for p in paths)  # internal: not public
    assert paths["/api/v1/spaces/{space_id}"]["get"]["x-roles"] == ["viewer", "staff", "admin"]
    assert paths["/api/v1/cameras/{camera_id}/frame"]["put"]["x-roles"] == ["camera", "admin"]
    keys = paths["/api/v1/keys"]
    assert set(keys) == {"get", "post"}
    assert keys["post"]["x-roles"] == ["admin"]
    assert "security" not in keys["post"]  # the document's: a key is needed
    assert "requestBody" in keys["post"]
    assert paths["/healthz"]["get"].get("tags") != ["camera-ingest"]  # the gateway's own
    assert paths["/api/v1/spaces/{space_id}"]["get"]["operationId"] == "aggregator_get"


def test_merged_openapi_prefixes_colliding_components(client):
    doc = client.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    assert schemas["CameraIngestProblem"]["title"] == "camera-ingest problem"
    assert schemas["AggregatorProblem"]["title"] == "aggregator problem"
    assert schemas["BatchProblem"]["title"] == "batch problem"
    assert "request_id" in schemas["Problem"]["properties"]  # the gateway's own (shelter-kit's)
    readyz = doc["paths"]["/readyz"]["get"]["responses"]["503"]
    assert readyz["content"]["application/problem+json"]["schema"]["$ref"] == (
        "#/components/schemas/Problem"
    )
    assert schemas["Shared"] == {"type": "string"}  # identical everywhere: kept once
    put = doc["paths"]["/api/v1/cameras/{camera_id}/frame"]["put"]
    ref = put["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/CameraIngestProblem"
    assert {"ApiKeyHeader", "BearerAuth"} <= set(doc["components"]["securitySchemes"])
    assert doc["paths"]["/healthz"]["get"]["security"] == []
    assert doc["paths"]["/readyz"]["get"]["security"] == []


def test_merged_openapi_tolerates_a_down_upstream(gateway_factory: GatewayFactory, dead_url):
    response = httpx.get(gateway_factory(aggregator_url=dead_url) + "/openapi.json", timeout=10)
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/v1/classifier/predict" in paths
    assert "/api/v1/spaces/{space_id}" not in paths


def test_dashboard_and_docs_are_public(client):
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert client.get("/static/app.js").status_code == 200
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert docs.headers["content-type"].startswith("text/html")


def test_docs_is_swagger_ui_from_local_files_over_the_merged_document(client):
    """Every script, stylesheet and icon the page names is this gateway's and answers 200; no
    external host anywhere in the page; the set-up sends the CSRF header on "Try it out"."""
    page = client.get("/docs").text
    assert not re.findall(r"https?://[^\s\"'<>]+", page)
    assert 'data-openapi-url="/openapi.json"' in page
    assert "X-Requested-With" in html.unescape(page)
    linked = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert "/docs/assets/swagger-ui-bundle.js" in linked
    assert "/docs/init.js" in linked
    for url in linked:
        assert url.startswith("/"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 100, url
    assert "SwaggerUIBundle" in client.get("/docs/assets/swagger-ui-bundle.js").text
    assert "requestInterceptor" in client.get("/docs/init.js").text
    doc = client.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.1")  # Swagger UI 5 reads 3.1
    schemes = doc["components"]["securitySchemes"]
    assert schemes["ApiKeyHeader"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    assert schemes["SessionCookie"] == {"type": "apiKey", "in": "cookie", "name": "sw_session"}


def test_sessions_and_links_are_documented_with_their_statuses(client):
    paths = client.get("/openapi.json").json()["paths"]
    expected = {
        ("/api/v1/session", "post"): {"200", "401", "403", "413", "422", "429"},
        ("/api/v1/session", "get"): {"200", "401", "403", "429"},
        ("/api/v1/session", "delete"): {"204", "401", "403", "429"},
        ("/api/v1/links", "post"): {"201", "401", "403", "413", "422", "429"},
        ("/api/v1/links", "get"): {"200", "401", "403", "429"},
        ("/api/v1/links/{link_id}", "delete"): {"204", "401", "403", "404", "429"},
    }
    for (path, method), statuses in expected.items():
        operation = paths[path][method]
        assert statuses <= set(operation["responses"]), (path, method)
        for status in statuses - {"200", "201", "204"}:
            content = operation["responses"][status]["content"]
            assert "application/problem+json" in content, (path, method, status)
    assert paths["/api/v1/session"]["post"]["security"] == []  # the key is in the body
    assert paths["/api/v1/links"]["post"]["x-roles"] == ["admin"]
    assert set(paths["/api/v1/session"]["get"]["x-roles"]) == {"viewer", "staff", "admin"}


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/api/v1/keys", "GET, HEAD, POST"),  # an own route
        ("DELETE", "/api/v1/spaces", "GET, HEAD"),  # a proxied one
        ("POST", "/api/v1/cameras/cam-1", "DELETE, GET, HEAD, PATCH, PUT"),
        # the literal row wins, as in routing: not GET of /api/v1/frames/{frame_id}
        ("OPTIONS", "/api/v1/frames/redrive", "POST"),
    ],
)
def test_a_method_no_row_answers_on_a_public_path_is_a_405_with_allow(
    client, method: str, path: str, allow: str
):
    response = client.request(method, path, headers={"X-API-Key": ADMIN})
    assert_problem(response, 405, "method-not-allowed")
    assert response.headers["allow"] == allow


def test_a_path_no_row_answers_is_still_refused(client):
    response = client.get("/api/v1/nothing-here", headers={"X-API-Key": ADMIN})
    assert response.status_code in (403, 404)
