"""One problem dialect (the kit's) for every error camera-ingest answers, HEAD wherever GET."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from camera_ingest import errors
from camera_ingest.cameras import Cameras
from camera_ingest.main import ERROR_STATUS
from tests.camera_ingest.conftest import add_camera

pytestmark = pytest.mark.anyio
PROBLEMS = "https://shelter-watch.example/problems/"


def assert_problem(
    response: httpx.Response, status: int, code: str, title: str, instance: str
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == PROBLEMS + code
    assert body["title"] == title
    assert body["status"] == status
    assert body["instance"] == instance
    assert body["request_id"] == response.headers["x-request-id"]
    assert body["detail"]
    return body


async def test_404_is_a_problem_naming_the_public_path(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/cameras/nope", headers={"X-Request-ID": "rid-404"})
    body = assert_problem(response, 404, "camera-not-found", "Camera not found", "/v1/cameras/nope")
    assert body["request_id"] == "rid-404"
    via_gateway = await client.get(
        "/v1/cameras/nope", headers={"X-Forwarded-Uri": "/api/v1/cameras/nope?x=1"}
    )
    assert_problem(via_gateway, 404, "camera-not-found", "Camera not found", "/api/v1/cameras/nope")


async def test_422_is_a_problem_listing_the_errors(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/cameras", json={"id": "bad id!", "space_id": "s"})
    body = assert_problem(response, 422, "validation-error", "Validation error", "/v1/cameras")
    assert body["errors"][0]["loc"] == ["body", "id"]


async def test_an_unexpected_error_is_a_500_problem_with_the_request_id(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(self: Cameras) -> list[object]:
        raise RuntimeError("a bug that mentions s3cr3t")

    monkeypatch.setattr(Cameras, "all", broken)
    response = await client.get("/v1/cameras", headers={"X-Request-ID": "rid-500"})
    body = assert_problem(response, 500, "internal-error", "Internal error", "/v1/cameras")
    assert body["request_id"] == "rid-500"
    assert "s3cr3t" not in response.text  # the exception stays in the log


async def test_head_answers_wherever_get_does(client: httpx.AsyncClient) -> None:
    await add_camera(client, "h1")
    for path in ("/v1/cameras", "/v1/cameras/h1", "/v1/outbox", "/healthz", "/readyz", "/metrics"):
        response = await client.head(path)
        assert response.status_code == 200, path
        assert response.content == b""
    assert (await client.head("/v1/cameras/nope")).status_code == 404


def _leaves(cls: type[Exception]) -> list[type[Exception]]:
    subs = cls.__subclasses__()
    return [leaf for sub in subs for leaf in _leaves(sub)] if subs else [cls]


def test_every_domain_error_the_api_raises_has_a_status() -> None:
    """A new IngestError without a status would be a 500: the one map must cover the tree."""
    for leaf in [*_leaves(errors.IngestError), errors.StoreUnavailable]:
        assert any(cls in ERROR_STATUS for cls in leaf.__mro__), leaf.__name__
