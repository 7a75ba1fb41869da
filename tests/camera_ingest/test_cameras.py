"""The camera registry: CRUD, validation, problem+json."""

from __future__ import annotations

import httpx
import pytest
import redis

from camera_ingest.config import Settings
from camera_ingest.main import create_app
from tests.camera_ingest.conftest import add_camera, app_client

pytestmark = pytest.mark.anyio
PROBLEMS = "https://shelter-watch.example/problems/"
INDEX = "ingest:cameras"


async def test_camera_crud(loopback_settings: Settings) -> None:
    async with app_client(create_app(loopback_settings)) as client:
        await _crud(client)


async def _crud(client: httpx.AsyncClient) -> None:
    created = await add_camera(client, "k1", space_id="kennel-1")
    assert created["mode"] == "push"
    assert created["enabled"] is True
    assert created["status"]["state"] == "offline"  # no frame yet
    duplicate = await client.post("/v1/cameras", json={"id": "k1", "space_id": "kennel-1"})
    assert duplicate.status_code == 409
    assert duplicate.headers["content-type"] == "application/problem+json"
    assert duplicate.json()["type"] == PROBLEMS + "camera-exists"

    patched = await client.patch("/v1/cameras/k1", json={"enabled": False})
    assert patched.status_code == 200
    assert patched.json()["enabled"] is False
    put = await client.put(
        "/v1/cameras/k1",
        json={
            "space_id": "kennel-9",
            "mode": "poll",
            "snapshot_url": "http://127.0.0.1:9/s.jpg",
            "interval_s": 2,
        },
    )
    assert put.status_code == 200
    assert put.json()["space_id"] == "kennel-9"
    new = await client.put("/v1/cameras/k2", json={"space_id": "kennel-2"})
    assert new.status_code == 201
    listed = (await client.get("/v1/cameras")).json()["cameras"]
    assert [c["id"] for c in listed] == ["k1", "k2"]

    assert (await client.delete("/v1/cameras/k1")).status_code == 204
    assert (await client.get("/v1/cameras/k1")).status_code == 404
    again = await client.delete("/v1/cameras/k1")
    assert again.status_code == 404
    assert again.json()["type"] == PROBLEMS + "camera-not-found"
    assert (await client.patch("/v1/cameras/k1", json={"enabled": True})).status_code == 404


async def test_get_and_delete_agree_on_a_stray_index_entry(
    client: httpx.AsyncClient, redis_url: str
) -> None:
    with redis.Redis.from_url(redis_url) as r:
        r.sadd(INDEX, "ghost")  # in the index, no config: what an older bug left behind
        assert (await client.get("/v1/cameras/ghost")).status_code == 404
        assert (await client.delete("/v1/cameras/ghost")).status_code == 404
        assert not r.sismember(INDEX, "ghost")  # cleaned up all the same
    assert (await client.get("/v1/cameras")).json()["cameras"] == []


@pytest.mark.parametrize("camera_id", ["bad%20id!", "%2E%2E", "%2E", "x" * 65])
async def test_a_path_id_outside_the_id_rule_is_422_and_stores_nothing(
    client: httpx.AsyncClient, redis_url: str, camera_id: str
) -> None:
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        body = {"space_id": "s"} if method in ("PUT", "PATCH") else None
        response = await client.request(method, f"/v1/cameras/{camera_id}", json=body)
        assert response.status_code == 422, (method, response.text)
        problem = response.json()
        assert problem["type"] == PROBLEMS + "validation-error"
        assert problem["errors"][0]["loc"] == ["path", "camera_id"]
        assert problem["request_id"] == response.headers["x-request-id"]
    with redis.Redis.from_url(redis_url) as r:
        assert r.smembers(INDEX) == set()
        assert r.keys("ingest:camera:*") == []


async def test_a_bad_path_id_on_a_frame_upload_is_422(client: httpx.AsyncClient) -> None:
    response = await client.put(
        "/v1/cameras/bad%20id!/frame", content=b"x", headers={"Content-Type": "image/jpeg"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["path", "camera_id"]


@pytest.mark.parametrize(
    "body",
    [
        {"id": "p1", "space_id": "s", "mode": "poll"},  # poll without a URL
        {"id": "p1", "space_id": "s", "mode": "poll", "snapshot_url": "ftp://x/y.jpg"},
        {"id": "bad id!", "space_id": "s"},
        {"id": ".", "space_id": "s"},
        {"id": "..", "space_id": "s"},
        {"id": "p1", "space_id": ".."},
        {"id": "p1", "space_id": "s", "mode": "sideways"},
        {"id": "p1", "space_id": "s", "interval_s": 0},
        {"id": "p1"},
    ],
)
async def test_invalid_cameras_are_422(client: httpx.AsyncClient, body: dict[str, object]) -> None:
    response = await client.post("/v1/cameras", json=body)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"] == PROBLEMS + "validation-error"
    assert problem["title"] == "Validation error"
    assert problem["status"] == 422
    assert problem["errors"]
    assert problem["request_id"] == response.headers["x-request-id"]


async def test_patch_to_poll_without_url_is_422(client: httpx.AsyncClient) -> None:
    await add_camera(client, "k3")
    response = await client.patch("/v1/cameras/k3", json={"mode": "poll"})
    assert response.status_code == 422, response.text
    assert response.json()["type"] == PROBLEMS + "invalid-camera"


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.json() == {"status": "ready", "checks": {"redis": "ok"}}
    missing = await client.get("/v1/frames/unknown")
    assert missing.status_code == 404
    assert missing.json()["type"] == PROBLEMS + "frame-not-found"
