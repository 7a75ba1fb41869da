"""Fixtures: three real upstream servers and gateways (real uvicorn) in front of them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from gateway.config import Settings
from gateway.main import create_app
from tests.gateway.upstreams import Control, ThreadServer, upstream_app
from tests.servers import free_port

PROBLEM_BASE = "https://shelter-watch.example/problems/"
KEYS = "reader:rk-1:read,writer:wk-1:write,cam:ck-1:camera,root:ak-1:admin,both:bk-1:read+write"
READ, WRITE, CAMERA, ADMIN = "rk-1", "wk-1", "ck-1", "ak-1"


@pytest.fixture(scope="module")
def control() -> Iterator[Control]:
    ctl = Control()
    yield ctl
    ctl.release.set()
    ctl.sse_release.set()


@pytest.fixture(scope="module")
def upstreams(control: Control) -> Iterator[dict[str, str]]:
    servers = {n: ThreadServer(upstream_app(n, control)).start()
               for n in ("camera-ingest", "classifier", "aggregator")}  # fmt: skip
    yield {name: server.url for name, server in servers.items()}
    control.release.set()
    control.sse_release.set()
    for server in servers.values():
        server.stop()


GatewayFactory = Callable[..., str]


@pytest.fixture(scope="module")
def gateway_factory(upstreams: dict[str, str]) -> Iterator[GatewayFactory]:
    """Start a gateway (real uvicorn) with these settings overrides; returns its base URL."""
    started: list[ThreadServer] = []

    def start(**overrides: Any) -> str:
        fields: dict[str, Any] = {
            "api_keys": SecretStr(KEYS),
            "ingest_url": upstreams["camera-ingest"],
            "classifier_url": upstreams["classifier"],
            "aggregator_url": upstreams["aggregator"],
            "rate_limit_rps": 1000.0,
            "rate_limit_burst": 1000,
            "max_body_bytes": 1000,
            "openapi_ttl_s": 0.0,
            **overrides,
        }
        # the gateway is the edge: run as in the image, with --no-proxy-headers
        server = ThreadServer(create_app(Settings(**fields)), proxy_headers=False).start()
        started.append(server)
        return server.url

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def gateway(gateway_factory: GatewayFactory) -> str:
    return gateway_factory()


@pytest.fixture
def client(gateway: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway, timeout=10) as c:
        yield c


@pytest.fixture(scope="module")
def dead_url() -> str:
    """A loopback port nobody listens on."""
    return f"http://127.0.0.1:{free_port()}"


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """A problem+json in the one dialect whose request id is the response's X-Request-ID."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == PROBLEM_BASE + code
    assert body["title"] == code.replace("-", " ").capitalize()
    assert body["status"] == status
    assert body["request_id"] == response.headers["x-request-id"]
    assert isinstance(body["detail"], str)
    assert isinstance(body["instance"], str)
    return body
