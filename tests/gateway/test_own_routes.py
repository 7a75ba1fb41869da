"""The gateway's own endpoints: health, readiness, metrics, merged OpenAPI, docs, dashboard."""

from __future__ import annotations

import httpx

from tests.gateway.conftest import READ, GatewayFactory
from tests.gateway.upstreams import Control


def test_healthz(client):
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_readyz_lists_every_upstream(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["upstreams"] == {
        "camera-ingest": "ready", "classifier": "ready", "aggregator": "ready"}  # fmt: skip


def test_readyz_503_when_an_upstream_is_down(gateway_factory: GatewayFactory, dead_url):
    response = httpx.get(gateway_factory(classifier_url=dead_url) + "/readyz", timeout=10)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    upstreams = response.json()["upstreams"]
    assert upstreams["classifier"].startswith("unreachable")
    assert upstreams["aggregator"] == "ready"


def test_readyz_503_when_an_upstream_is_not_ready(client, control: Control):
    control.not_ready.add("aggregator")
    try:
        response = client.get("/readyz")
    finally:
        control.not_ready.discard("aggregator")
    assert response.status_code == 503
    assert response.json()["upstreams"]["aggregator"] == "status 503"


def test_metrics_count_routes_and_upstreams(client):
    client.get("/api/v1/spaces/k1", headers={"X-API-Key": READ})
    text = client.get("/metrics").text
    assert 'route="/api/v1/spaces"' in text
    assert 'upstream="aggregator"' in text
    assert "gateway_request_seconds_bucket" in text


def test_merged_openapi_has_public_paths_of_every_upstream(client):
    doc = client.get("/openapi.json").json()
    paths = doc["paths"]
    assert "put" in paths["/api/v1/cameras/{camera_id}/frame"]
    assert "get" in paths["/api/v1/spaces/{space_id}"]
    assert "post" in paths["/api/v1/classifier/predict"]
    assert "post" in paths["/api/v2/models/{name}/infer"]
    assert not any(p.startswith("/v1") or p.startswith("/v2") for p in paths)
    assert "/api/v1/internal-only" not in paths
    assert paths["/healthz"]["get"].get("tags") != ["camera-ingest"]  # the gateway's own
    assert paths["/api/v1/spaces/{space_id}"]["get"]["operationId"] == "aggregator_get"


def test_merged_openapi_prefixes_colliding_components(client):
    doc = client.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    assert schemas["CameraIngestProblem"]["title"] == "camera-ingest problem"
    assert schemas["AggregatorProblem"]["title"] == "aggregator problem"
    assert "Problem" not in schemas
    assert schemas["Shared"] == {"type": "string"}  # identical everywhere: kept once
    put = doc["paths"]["/api/v1/cameras/{camera_id}/frame"]["put"]
    ref = put["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/CameraIngestProblem"
    assert {"ApiKeyHeader", "BearerAuth"} <= set(doc["components"]["securitySchemes"])
    assert doc["paths"]["/healthz"]["get"]["security"] == []


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
    assert "/static/app.js" in page.text
    script = client.get("/static/app.js")
    assert script.status_code == 200
    assert "/api/v1/events" in script.text
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "/openapi.json" in docs.text
