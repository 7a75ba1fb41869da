"""The camera registry: CRUD, validation, problem+json."""

from __future__ import annotations

import httpx
import pytest

from tests.camera_ingest.conftest import add_camera

pytestmark = pytest.mark.anyio


async def test_camera_crud(client: httpx.AsyncClient) -> None:
    created = await add_camera(client, "k1", space_id="kennel-1")
    assert created["mode"] == "push"
    assert created["enabled"] is True
    assert created["status"]["state"] == "offline"  # no frame yet
    duplicate = await client.post("/v1/cameras", json={"id": "k1", "space_id": "kennel-1"})
    assert duplicate.status_code == 409
    assert duplicate.headers["content-type"] == "application/problem+json"

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
    assert (await client.delete("/v1/cameras/k1")).status_code == 404
    assert (await client.patch("/v1/cameras/k1", json={"enabled": True})).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"id": "p1", "space_id": "s", "mode": "poll"},  # poll without a URL
        {"id": "p1", "space_id": "s", "mode": "poll", "snapshot_url": "ftp://x/y.jpg"},
        {"id": "bad id!", "space_id": "s"},
        {"id": "p1", "space_id": "s", "mode": "sideways"},
        {"id": "p1", "space_id": "s", "interval_s": 0},
        {"id": "p1"},
    ],
)
async def test_invalid_cameras_are_422(client: httpx.AsyncClient, body: dict[str, object]) -> None:
    response = await client.post("/v1/cameras", json=body)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["status"] == 422
    assert problem["errors"]
    assert problem["request_id"] == response.headers["x-request-id"]


async def test_patch_to_poll_without_url_is_422(client: httpx.AsyncClient) -> None:
    await add_camera(client, "k3")
    response = await client.patch("/v1/cameras/k3", json={"mode": "poll"})
    assert response.status_code == 422, response.text


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).status_code == 200
    assert (await client.get("/v1/frames/unknown")).status_code == 404
