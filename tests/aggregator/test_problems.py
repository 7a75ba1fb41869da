"""The one problem dialect (shelter-kit's) on the aggregator: 404, 409, 422, 503 and an
unexpected 500, each problem+json with the request id of the X-Request-ID header; HEAD."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from aggregator import spaces
from tests.aggregator.conftest import DOG, observation
from tests.servers import free_port

pytestmark = pytest.mark.anyio
BASE = "https://shelter-watch.example/problems/"


def problem(response: httpx.Response, status: int, code: str, title: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == BASE + code
    assert body["title"] == title
    assert body["status"] == status
    assert body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body


async def test_unknown_space_is_a_404_problem(client):
    response = await client.get("/v1/spaces/nowhere", headers={"x-request-id": "rq-404"})
    body = problem(response, 404, "space-not-found", "Space not found")
    assert body["request_id"] == "rq-404"
    assert body["instance"] == "/v1/spaces/nowhere"
    assert "nowhere" in body["detail"]


async def test_instance_is_the_public_path_the_gateway_passes_on(client):
    headers = {"x-forwarded-uri": "/api/v1/spaces/nowhere"}
    response = await client.get("/v1/spaces/nowhere", headers=headers)
    body = problem(response, 404, "space-not-found", "Space not found")
    assert body["instance"] == "/api/v1/spaces/nowhere"


async def test_invalid_body_is_a_422_problem(client):
    response = await client.post("/v1/observations", json={**observation("x"), "label": "horse"})
    body = problem(response, 422, "validation-error", "Validation error")
    assert body["errors"][0]["loc"] == ["body", "label"]
    assert body["instance"] == "/v1/observations"


async def test_domain_conflict_is_a_409_problem(client):
    await client.post("/v1/observations", json=observation("f1"))
    response = await client.post("/v1/observations", json=observation("f1", probs=DOG))
    problem(response, 409, "frame-conflict", "Frame conflict")


async def test_batch_items_carry_the_same_dialect(client):
    body = {"observations": [observation("b1"), observation("b1", probs=DOG)]}
    response = await client.post("/v1/observations/batch", json=body)
    assert response.status_code == 200
    item = response.json()["results"][1]
    assert item["status"] == 409
    assert item["problem"]["type"] == BASE + "frame-conflict"
    assert item["problem"]["request_id"] == response.headers["x-request-id"]
    assert item["problem"]["instance"] == "/v1/observations/batch"


async def test_batch_over_the_limit_is_a_422_problem(client_for):
    client, _ = await client_for(batch_max=1)
    body = {"observations": [observation("a"), observation("b")]}
    response = await client.post("/v1/observations/batch", json=body)
    problem(response, 422, "batch-too-large", "Batch too large")


async def test_unexpected_error_is_a_500_problem_with_the_request_id(client, monkeypatch):
    async def broken(*args: Any) -> None:
        raise RuntimeError("a bug holding s3cr3t")

    monkeypatch.setattr(spaces, "get_space", broken)
    response = await client.get("/v1/spaces/k1", headers={"x-request-id": "rq-500"})
    body = problem(response, 500, "internal-error", "Internal error")
    assert body["request_id"] == "rq-500"
    assert "s3cr3t" not in response.text


async def test_redis_down_is_a_503_problem_with_retry_after(client_for):
    client, _ = await client_for(
        redis_url=f"redis://127.0.0.1:{free_port()}/1", redis_timeout_s=0.5, sse_block_ms=100
    )
    response = await client.get("/v1/spaces/k1")
    problem(response, 503, "store-unavailable", "Store unavailable")
    assert response.headers["retry-after"] == "1"
    ready = await client.get("/readyz")
    body = problem(ready, 503, "not-ready", "Not ready")
    assert body["checks"]["redis"] != "ok"


async def test_head_answers_wherever_get_does(client):
    await client.post("/v1/observations", json=observation("h1"))
    for path in ("/healthz", "/readyz", "/v1/spaces", "/v1/spaces/k1", "/v1/summary"):
        response = await client.head(path)
        assert response.status_code == 200, path
        assert response.content == b""
        assert response.headers["x-request-id"]
    assert (await client.head("/v1/spaces/nowhere")).status_code == 404
