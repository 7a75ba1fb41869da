"""API keys and roles through the running gateway: how a key is presented, what each role may
do (the full matrix is test_permissions.py), and the per-key rate limit."""

from __future__ import annotations

import httpx
import pytest

from tests.gateway.conftest import ADMIN, GatewayFactory, Keys, assert_problem, issue

FRAME = "/api/v1/cameras/cam-1/frame"


def test_no_key_is_401_problem(client):
    response = client.get("/api/v1/spaces")
    body = assert_problem(response, 401, "missing-api-key")
    assert response.headers["www-authenticate"] == 'Bearer realm="shelter-watch"'
    assert body["instance"] == "/api/v1/spaces"


@pytest.mark.parametrize(("headers", "code"), [
    ({"X-API-Key": "nope"}, "unknown-api-key"),
    ({"Authorization": "Bearer nope"}, "unknown-api-key"),
    ({"X-API-Key": "sw_" + "A" * 32}, "unknown-api-key"),  # the shape of a key, never issued
    ({"Authorization": f"Basic {ADMIN}"}, "missing-api-key"),
])  # fmt: skip
def test_unknown_key_is_401(client, headers, code):
    response = client.get("/api/v1/spaces", headers=headers)
    assert_problem(response, 401, code)
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_bearer_key_works(client, keys: Keys):
    response = client.get("/api/v1/spaces", headers={"Authorization": f"Bearer {keys.viewer}"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("who", "method", "path", "status"),
    [
        ("viewer", "GET", "/api/v1/spaces", 200),
        ("viewer", "PUT", FRAME, 403),
        ("viewer", "POST", "/api/v1/alerts/a1/ack", 403),
        ("staff", "POST", "/api/v1/alerts/a1/ack", 200),
        ("staff", "PATCH", "/api/v1/animals/a1", 200),
        ("staff", "POST", "/api/v1/classifier/predict", 200),
        ("staff", "DELETE", "/api/v1/cameras/cam-1", 403),
        ("staff", "PUT", FRAME, 403),
        ("staff", "GET", "/api/v1/outbox", 403),
        ("camera", "PUT", FRAME, 200),
        ("camera", "PUT", "/api/v1/cameras/cam-3/frame", 200),  # its second camera
        ("camera", "PUT", "/api/v1/cameras/cam-2/frame", 403),  # not its camera
        ("camera", "PUT", "/api/v1/cameras/cam-1", 403),
        ("camera", "POST", FRAME, 405),  # the path has rows, not for POST: 405 + Allow
        ("camera", "GET", "/api/v1/cameras/cam-1", 200),
        ("camera", "GET", "/api/v1/cameras/cam-2", 403),
        ("camera", "GET", "/api/v1/cameras", 403),
        ("camera", "GET", "/api/v1/spaces", 403),
        ("camera", "PUT", "/api/v1/cameras/cam-1/frame/extra", 403),
        ("other_camera", "PUT", "/api/v1/cameras/cam-2/frame", 200),
        ("other_camera", "PUT", FRAME, 403),
        ("admin", "GET", "/api/v1/spaces", 200),
        ("admin", "DELETE", "/api/v1/cameras/cam-1", 200),
        ("admin", "PUT", FRAME, 200),
        ("admin", "PUT", "/api/v1/spaces/k1", 405),  # no row for PUT: refused even to admin
    ],
)
def test_roles(client, keys: Keys, who, method, path, status):
    key = getattr(keys, who)
    response = client.request(method, path, headers={"X-API-Key": key}, content=b"{}")
    assert response.status_code == status, response.text
    if status == 403:
        detail = assert_problem(response, 403, "permission-denied")["detail"]
        assert "may not" in detail
        assert key not in detail
        assert "www-authenticate" not in response.headers
    if status == 405:  # nothing forwarded: the gateway answers, with the methods its rows allow
        assert_problem(response, 405, "method-not-allowed")
        assert method not in response.headers["allow"].split(", ")


def test_camera_ids_are_compared_decoded(client, keys: Keys):
    encoded = client.put("/api/v1/cameras/cam%2D1/frame", headers={"X-API-Key": keys.camera},
                         content=b"x")  # fmt: skip
    assert encoded.status_code == 200  # %2D is '-': the same camera
    slash = client.put("/api/v1/cameras/cam-1%2F..%2Fcam-2/frame",
                       headers={"X-API-Key": keys.camera}, content=b"x")  # fmt: skip
    assert slash.status_code in (400, 403)


@pytest.mark.parametrize(("who", "status"), [("viewer", 200), ("admin", 200), ("staff", 200),
                                             ("camera", 403), (None, 401)])  # fmt: skip
def test_head_is_allowed_where_get_is(client, keys: Keys, who, status):
    headers = {"X-API-Key": getattr(keys, who)} if who else {}
    response = client.head("/api/v1/spaces/k1", headers=headers)
    assert response.status_code == status
    assert response.content == b""


def test_rate_limit_429_with_retry_after(gateway_factory: GatewayFactory):
    url = gateway_factory(key_prefix="gw-limit-429:", rate_viewer_rps=0.01, rate_viewer_burst=2)
    viewer, other = issue(url, "viewer")["secret"], issue(url, "viewer")["secret"]
    with httpx.Client(base_url=url, timeout=10) as c:
        statuses = [c.get("/api/v1/summary", headers={"X-API-Key": viewer}).status_code
                    for _ in range(3)]  # fmt: skip
        limited = c.get("/api/v1/summary", headers={"X-API-Key": viewer})
        other_key = c.get("/api/v1/summary", headers={"X-API-Key": other})
    assert statuses == [200, 200, 429]
    body = assert_problem(limited, 429, "rate-limited")
    retry_after = limited.headers["retry-after"]
    assert int(retry_after) >= 1
    assert body["detail"] == f"rate limit exceeded; retry after {retry_after}s"  # they agree
    assert other_key.status_code == 200  # buckets are per key id, even for two keys alike


def test_two_keys_with_one_label_have_two_buckets(gateway_factory: GatewayFactory):
    url = gateway_factory(key_prefix="gw-limit-label:", rate_viewer_rps=0.01, rate_viewer_burst=1)
    first = issue(url, "viewer", label="front desk")["secret"]
    second = issue(url, "viewer", label="front desk")["secret"]
    with httpx.Client(base_url=url, timeout=10) as c:
        assert c.get("/api/v1/summary", headers={"X-API-Key": first}).status_code == 200
        assert c.get("/api/v1/summary", headers={"X-API-Key": first}).status_code == 429
        assert c.get("/api/v1/summary", headers={"X-API-Key": second}).status_code == 200
