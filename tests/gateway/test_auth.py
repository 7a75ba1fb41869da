"""API keys and scopes through the running gateway, and the per-key rate limit."""

from __future__ import annotations

import pytest

from tests.gateway.conftest import ADMIN, CAMERA, READ, WRITE, GatewayFactory

FRAME = "/api/v1/cameras/cam-1/frame"


def test_no_key_is_401_problem(client):
    response = client.get("/api/v1/spaces")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert body["status"] == 401
    assert body["instance"] == "/api/v1/spaces"
    assert body["request_id"] == response.headers["x-request-id"]


@pytest.mark.parametrize("headers", [{"X-API-Key": "nope"}, {"Authorization": "Bearer nope"},
                                     {"Authorization": f"Basic {READ}"}])  # fmt: skip
def test_unknown_key_is_401(client, headers):
    assert client.get("/api/v1/spaces", headers=headers).status_code == 401


def test_bearer_key_works(client):
    response = client.get("/api/v1/spaces", headers={"Authorization": f"Bearer {READ}"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("key", "method", "path", "status"),
    [
        (READ, "GET", "/api/v1/spaces", 200),
        (READ, "POST", "/api/v1/observations", 403),
        (READ, "PUT", FRAME, 403),
        (WRITE, "POST", "/api/v1/observations", 200),
        (WRITE, "DELETE", "/api/v1/cameras/cam-1", 200),
        (WRITE, "PUT", FRAME, 200),
        (WRITE, "GET", "/api/v1/spaces", 403),
        (CAMERA, "PUT", FRAME, 200),
        (CAMERA, "PUT", "/api/v1/cameras/cam-1", 403),
        (CAMERA, "POST", FRAME, 403),
        (CAMERA, "GET", "/api/v1/spaces", 403),
        (CAMERA, "PUT", "/api/v1/cameras/cam-1/frame/extra", 403),
        (ADMIN, "GET", "/api/v1/spaces", 200),
        (ADMIN, "POST", "/api/v1/classifier/predict", 200),
        (ADMIN, "PUT", FRAME, 200),
        ("bk-1", "GET", "/api/v1/summary", 200),
        ("bk-1", "PATCH", "/api/v1/alerts/a1", 200),
    ],
)
def test_scopes(client, key, method, path, status):
    response = client.request(method, path, headers={"X-API-Key": key}, content=b"{}")
    assert response.status_code == status, response.text
    if status == 403:
        assert response.headers["content-type"] == "application/problem+json"
        assert "scope" in response.json()["detail"]


def test_rate_limit_429_with_retry_after(gateway_factory: GatewayFactory):
    import httpx

    url = gateway_factory(rate_limit_rps=0.01, rate_limit_burst=2)
    with httpx.Client(base_url=url, timeout=10) as c:
        statuses = [c.get("/api/v1/summary", headers={"X-API-Key": READ}).status_code
                    for _ in range(3)]  # fmt: skip
        limited = c.get("/api/v1/summary", headers={"X-API-Key": READ})
        other_key = c.get("/api/v1/summary", headers={"X-API-Key": ADMIN})
    assert statuses == [200, 200, 429]
    assert limited.status_code == 429
    assert limited.headers["content-type"] == "application/problem+json"
    assert int(limited.headers["retry-after"]) >= 1
    assert other_key.status_code == 200  # buckets are per key
