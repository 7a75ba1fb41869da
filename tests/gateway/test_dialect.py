"""One problem dialect end to end, and the request context the gateway passes on.

The gateway's own 404 / 500 and an upstream's 404 / 422 / 500 (a real shelter-kit app behind the
gateway) all answer problem+json in the one dialect, with the request id of the X-Request-ID
header and the PUBLIC path as `instance`; HEAD is forwarded as HEAD; a valid `traceparent`
passes, a bad one does not.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from gateway.proxy import Proxy
from tests.gateway.conftest import ADMIN, GatewayFactory, assert_problem
from tests.gateway.upstreams import Control, ThreadServer, kit_upstream_app

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture(scope="module")
def kit_gateway(gateway_factory: GatewayFactory) -> Iterator[str]:
    """A gateway whose classifier is a shelter-kit app."""
    server = ThreadServer(kit_upstream_app()).start()
    yield gateway_factory(classifier_url=server.url)
    server.stop()


def get(url: str, **headers: str) -> httpx.Response:
    return httpx.get(url, headers={"X-API-Key": ADMIN, **headers}, timeout=10)


def test_gateway_404_and_500_are_one_dialect(client, monkeypatch):
    body = assert_problem(client.get("/api/v1/kennels", headers={"X-Request-ID": "r-404"}),
                          404, "route-not-found")  # fmt: skip
    assert (body["title"], body["instance"], body["request_id"]) == (
        "Route not found", "/api/v1/kennels", "r-404")  # fmt: skip

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(Proxy, "open", broken)
    response = client.get("/api/v1/spaces/k", headers={"X-API-Key": ADMIN})
    body = assert_problem(response, 500, "internal-error")
    assert body["instance"] == "/api/v1/spaces/k"


@pytest.mark.parametrize(("path", "status", "code"), [
    ("/api/v1/classifier/models/missing", 404, "model-not-found"),
    ("/api/v1/classifier/models/m?top=many", 422, "validation-error"),
    ("/api/v1/classifier/models/bug", 500, "internal-error"),
])  # fmt: skip
def test_upstream_problems_name_the_public_path_and_the_request_id(
    kit_gateway: str, path: str, status: int, code: str
):
    response = get(kit_gateway + path, **{"X-Request-ID": f"r-{status}"})
    body = assert_problem(response, status, code)
    assert body["request_id"] == f"r-{status}"  # the upstream's body, the gateway's header
    assert body["instance"] == path.split("?")[0]  # not /v1/models/...
    if status == 500:
        assert "upstream internals" not in response.text


def test_head_through_the_gateway(kit_gateway: str, client, control: Control):
    response = httpx.head(kit_gateway + "/api/v1/classifier/models/m",
                          headers={"X-API-Key": ADMIN}, timeout=10)  # fmt: skip
    assert (response.status_code, response.content) == (200, b"")
    assert int(response.headers["content-length"]) > 0  # the GET body's length, not sent
    missing = httpx.head(kit_gateway + "/api/v1/classifier/models/missing",
                         headers={"X-API-Key": ADMIN}, timeout=10)  # fmt: skip
    assert (missing.status_code, missing.content) == (404, b"")
    control.seen.clear()
    echoed = client.head("/api/v1/spaces/head-1", headers={"X-API-Key": ADMIN})
    assert (echoed.status_code, echoed.content) == (200, b"")
    assert control.seen == [("HEAD", "/v1/spaces/head-1")]  # forwarded as HEAD, not GET


def test_public_uri_and_context_passed_on(gateway: str):
    seen = get(gateway + "/api/v1/spaces/a%2Fb?x=1", traceparent=TRACEPARENT).json()["headers"]
    assert seen["x-forwarded-uri"] == "/api/v1/spaces/a%2Fb?x=1"
    assert seen["traceparent"] == TRACEPARENT
    assert "x-request-id" in seen


@pytest.mark.parametrize("bad", ["00-zz-yy-01", "00-" + "0" * 32 + "-00f067aa0ba902b7-01"])
def test_bad_traceparent_is_not_passed_on(gateway: str, bad: str):
    seen = get(gateway + "/api/v1/spaces", traceparent=bad).json()["headers"]
    assert "traceparent" not in seen


def test_client_forwarded_uri_is_not_trusted(gateway: str):
    spoofed = {"X-Forwarded-Uri": "/elsewhere"}
    body = assert_problem(get(gateway + "/api/v1/kennels", **spoofed), 404, "route-not-found")
    assert body["instance"] == "/api/v1/kennels"
    seen = get(gateway + "/api/v1/spaces", **spoofed).json()["headers"]
    assert seen["x-forwarded-uri"] == "/api/v1/spaces"
