"""One problem dialect across every service: a 404, a 422 and an unexpected exception each answer
RFC 9457 problem+json with the same `type` scheme, title style and members, and the request id
the response header names. Each service runs in-process with its real lifespan (real Redis, the
real model); the unexpected exception is forced by replacing one part the lifespan put on
app.state with an object that raises on any use.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

pytestmark = pytest.mark.anyio

TYPE = re.compile(r"^https://shelter-watch\.example/problems/[a-z0-9]+(-[a-z0-9]+)*$")
MEMBERS = {"type", "title", "status", "detail", "instance", "request_id"}


class Broken:
    """Stands in for a part: any attribute use raises, as a bug in that part would."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"forced failure using .{name}")


@dataclass(frozen=True)
class Case:
    name: str
    app: Callable[[str, Path], FastAPI]
    not_found: tuple[str, str, dict[str, Any]]
    invalid: tuple[str, str, dict[str, Any]]
    part: str  # the app.state part to break
    uses_part: tuple[str, str]


def ingest_app(redis_url: str, model_dir: Path) -> FastAPI:
    from camera_ingest.config import Settings
    from camera_ingest.main import create_app

    return create_app(Settings(redis_url=f"{redis_url}/0", poll_enabled=False))


def classifier_app(redis_url: str, model_dir: Path) -> FastAPI:
    from classifier.config import Settings
    from classifier.main import create_app

    return create_app(Settings(model_dir=model_dir))


def aggregator_app(redis_url: str, model_dir: Path) -> FastAPI:
    from aggregator.config import Settings
    from aggregator.main import create_app

    return create_app(Settings(redis_url=f"{redis_url}/1"))


ADMIN = {"x-api-key": "contract-admin-key"}


def gateway_app(redis_url: str, model_dir: Path) -> FastAPI:
    from gateway.config import Settings
    from gateway.main import create_app

    return create_app(
        Settings(redis_url=f"{redis_url}/2", bootstrap_admin_key="contract-admin-key")
    )


CASES = [
    Case(
        "camera-ingest",
        ingest_app,
        ("GET", "/v1/cameras/no-such-camera", {}),
        ("POST", "/v1/cameras", {"json": {"id": "a b", "mode": "sideways"}}),
        "cameras",
        ("GET", "/v1/cameras"),
    ),
    Case(
        "classifier",
        classifier_app,
        ("GET", "/v1/models/no-such-model", {}),
        ("POST", "/v2/models/efficientnet-lite0-pets/infer", {"json": {"inputs": "x"}}),
        "registry",
        ("GET", "/v1/models"),
    ),
    Case(
        "aggregator",
        aggregator_app,
        ("GET", "/v1/spaces/no-such-space", {}),
        ("POST", "/v1/observations", {"json": {"frame_id": 1}}),
        "shelter",
        ("GET", "/v1/summary"),
    ),
    Case(
        "gateway",
        gateway_app,
        ("GET", "/api/v1/no-such-route", {"headers": ADMIN}),
        ("POST", "/api/v1/keys", {"json": {"role": "ruler"}, "headers": ADMIN}),
        "keys",
        ("GET", "/api/v1/keys"),
    ),
]


def assert_dialect(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert set(body) >= MEMBERS
    assert TYPE.match(body["type"]), body["type"]
    code = body["type"].rsplit("/", 1)[1]
    title = code.replace("-", " ")
    assert body["title"] == title[:1].upper() + title[1:]
    assert body["status"] == status
    assert body["request_id"] == response.headers["x-request-id"]
    return body


async def wait_ready(client: httpx.AsyncClient, *, gateway: bool) -> None:
    """The classifier loads its models on a thread after start-up: wait for /readyz (a deadline).
    The gateway alone here has no upstreams, so it is live but never ready."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while (await client.get("/healthz")).status_code != 200 or (
        (await client.get("/readyz")).status_code != 200 and not gateway
    ):
        assert loop.time() < deadline, "not ready within 60 s"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
async def test_every_service_speaks_one_problem_dialect(
    case: Case, redis_url: str, model_dir: Path
) -> None:
    app = case.app(redis_url, model_dir)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://svc") as client,
    ):
        await wait_ready(client, gateway=case.name == "gateway")
        method, path, kwargs = case.not_found
        kwargs = dict(kwargs)
        public = path if case.name == "gateway" else f"/api{path}"  # the gateway is the edge
        headers = {"x-request-id": f"{case.name}-404", "x-forwarded-uri": public}
        headers |= kwargs.pop("headers", {})
        body = assert_dialect(await client.request(method, path, headers=headers, **kwargs), 404)
        assert body["request_id"] == f"{case.name}-404"
        assert body["instance"] == public

        method, path, kwargs = case.invalid
        body = assert_dialect(await client.request(method, path, **kwargs), 422)
        assert body["instance"] == path

        setattr(app.state, case.part, Broken())
        method, path = case.uses_part
        body = assert_dialect(await client.request(method, path, headers=ADMIN), 500)
        assert body["type"].endswith("/internal-error")
        assert "forced failure" not in body["detail"]  # the exception text stays in the log
        assert body["request_id"] in body["detail"]
