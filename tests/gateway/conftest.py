"""Fixtures: four real upstream servers (camera-ingest, classifier, aggregator, batch), a real
Redis of the gateway tests' own, and gateways (real uvicorn) in front of them, each with a
bootstrap admin key and keys issued through the API.

The Redis is the gateway tests' own (a `RedisServer`, not the session one that `redis_url`
flushes before each test): a module's gateways keep their keys for the whole module. Each module
gets its own key prefix, so no module sees another's keys or buckets.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from gateway.config import Settings
from gateway.main import create_app
from tests.gateway.upstreams import UPSTREAM_NAMES, Control, ThreadServer, upstream_app
from tests.servers import RedisServer, free_port

PROBLEM_BASE = "https://shelter-watch.example/problems/"
ADMIN = "bootstrap-admin-key-for-the-gateway-tests"  # GATEWAY_BOOTSTRAP_ADMIN_KEY
HIGH_LIMITS: dict[str, Any] = {
    f"rate_{who}_{what}": value
    for who in ("camera", "viewer", "staff", "admin", "address")
    for what, value in (("rps", 1000.0), ("burst", 10_000))
}


@dataclass(frozen=True)
class Keys:
    """Secrets of keys issued through the API (plus the bootstrap admin key)."""

    viewer: str
    staff: str
    camera: str  # bound to cam-1 and cam-3
    other_camera: str  # bound to cam-2
    admin: str = ADMIN


@pytest.fixture(scope="session")
def gateway_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("gateway-redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def key_prefix() -> str:
    return f"gw-{uuid.uuid4().hex[:8]}:"


@pytest.fixture(scope="module")
def control() -> Iterator[Control]:
    ctl = Control()
    yield ctl
    ctl.release.set()
    ctl.sse_release.set()


@pytest.fixture(scope="module")
def upstreams(control: Control) -> Iterator[dict[str, str]]:
    servers = {n: ThreadServer(upstream_app(n, control)).start()
               for n in UPSTREAM_NAMES}  # fmt: skip
    yield {name: server.url for name, server in servers.items()}
    control.release.set()
    control.sse_release.set()
    for server in servers.values():
        server.stop()


GatewayFactory = Callable[..., str]


def gateway_settings(
    upstreams: dict[str, str], redis: RedisServer, prefix: str, **overrides: Any
) -> dict[str, Any]:
    """The settings fields of a test gateway (high limits unless a test lowers them)."""
    return {
        "redis_url": SecretStr(f"{redis.url}/2"),
        "key_prefix": prefix,
        "bootstrap_admin_key": SecretStr(ADMIN),
        "ingest_url": upstreams["camera-ingest"],
        "classifier_url": upstreams["classifier"],
        "aggregator_url": upstreams["aggregator"],
        "batch_url": upstreams["batch"],
        **HIGH_LIMITS,
        "max_frame_bytes": 1000,
        "openapi_ttl_s": 0.0,
        **overrides,
    }


def as_env(fields: dict[str, Any]) -> dict[str, str]:
    """The same settings as GATEWAY_* variables, for a gateway process."""

    def text(value: Any) -> str:
        return value.get_secret_value() if isinstance(value, SecretStr) else str(value)

    return {f"GATEWAY_{name.upper()}": text(value) for name, value in fields.items()}


@pytest.fixture(scope="module")
def gateway_factory(
    upstreams: dict[str, str], gateway_redis: RedisServer, key_prefix: str
) -> Iterator[GatewayFactory]:
    """Start a gateway (real uvicorn) with these settings overrides; returns its base URL."""
    started: list[ThreadServer] = []

    def start(**overrides: Any) -> str:
        fields = gateway_settings(upstreams, gateway_redis, key_prefix, **overrides)
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


def issue(gateway: str, role: str, *, admin: str = ADMIN, **fields: Any) -> dict[str, Any]:
    """Issue a key through the API; returns the answer (id, secret, ...)."""
    response = httpx.post(gateway + "/api/v1/keys", json={"role": role, **fields},
                          headers={"X-API-Key": admin}, timeout=10)  # fmt: skip
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


@pytest.fixture(scope="module")
def keys(gateway: str) -> Keys:
    return Keys(
        viewer=issue(gateway, "viewer", label="tests: viewer")["secret"],
        staff=issue(gateway, "staff", label="tests: staff")["secret"],
        camera=issue(gateway, "camera", cameras=["cam-1", "cam-3"])["secret"],
        other_camera=issue(gateway, "camera", cameras=["cam-2"])["secret"],
    )


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


def log_lines(path: Path) -> list[str]:
    return path.read_text(errors="replace").splitlines() if path.exists() else []
