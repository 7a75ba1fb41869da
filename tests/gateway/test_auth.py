"""API keys and scopes through the running gateway, and the per-key rate limit."""

from __future__ import annotations

import pytest

from tests.gateway.conftest import ADMIN, CAMERA, READ, WRITE, GatewayFactory, assert_problem

FRAME = "/api/v1/cameras/cam-1/frame"


def test_no_key_is_401_problem(client):
    response = client.get("/api/v1/spaces")
    body = assert_problem(response, 401, "missing-api-key")
    assert response.headers["www-authenticate"] == 'Bearer realm="shelter-watch"'
    assert body["instance"] == "/api/v1/spaces"


@pytest.mark.parametrize(("headers", "code"), [
    ({"X-API-Key": "nope"}, "unknown-api-key"),
    ({"Authorization": "Bearer nope"}, "unknown-api-key"),
    ({"Authorization": f"Basic {READ}"}, "missing-api-key"),
])  # fmt: skip
def test_unknown_key_is_401(client, headers, code):
    response = client.get("/api/v1/spaces", headers=headers)
    assert_problem(response, 401, code)
    assert response.headers["www-authenticate"].startswith("Bearer")


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
        assert "scope" in assert_problem(response, 403, "scope-denied")["detail"]
        assert "www-authenticate" not in response.headers


@pytest.mark.parametrize(("key", "status"), [(READ, 200), (ADMIN, 200), (WRITE, 403),
                                             (CAMERA, 403), (None, 401)])  # fmt: skip
def test_head_needs_the_read_scope(client, key, status):
    headers = {"X-API-Key": key} if key else {}
    response = client.head("/api/v1/spaces/k1", headers=headers)
    assert response.status_code == status
    assert response.content == b""


def test_rate_limit_429_with_retry_after(gateway_factory: GatewayFactory):
    import httpx

    url = gateway_factory(rate_limit_rps=0.01, rate_limit_burst=2)
    with httpx.Client(base_url=url, timeout=10) as c:
        statuses = [c.get("/api/v1/summary", headers={"X-API-Key": READ}).status_code
                    for _ in range(3)]  # fmt: skip
        limited = c.get("/api/v1/summary", headers={"X-API-Key": READ})
        other_key = c.get("/api/v1/summary", headers={"X-API-Key": ADMIN})
    assert statuses == [200, 200, 429]
    body = assert_problem(limited, 429, "rate-limited")
    retry_after = limited.headers["retry-after"]
    assert int(retry_after) >= 1
    assert body["detail"] == f"rate limit exceeded; retry after {retry_after}s"  # they agree
    assert other_key.status_code == 200  # buckets are per key
