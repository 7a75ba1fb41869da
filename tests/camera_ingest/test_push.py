"""Push frames: 202 + Location, validation statuses, idempotency, backpressure."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from camera_ingest.main import create_app
from tests.camera_ingest.conftest import (
    Downstream,
    add_camera,
    app_client,
    eventually,
    fast_settings,
    frame_status,
    jpeg,
    png_header,
)

pytestmark = pytest.mark.anyio
PROBLEMS = "https://shelter-watch.example/problems/"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
async def small(redis_url: str, downstream: Downstream) -> AsyncIterator[httpx.AsyncClient]:
    """The app with a 4 KiB frame limit and an outbox of 3."""
    settings = fast_settings(redis_url, downstream.url, max_frame_bytes=4096, outbox_max_depth=3)
    async with app_client(create_app(settings)) as c:
        yield c


async def test_push_is_accepted_then_delivered_with_request_id(
    client: httpx.AsyncClient, downstream: Downstream
) -> None:
    await add_camera(client, "cam-a", space_id="kennel-a")
    response = await client.put(
        "/v1/cameras/cam-a/frame",
        content=jpeg(1),
        headers={
            "Content-Type": "image/jpeg",
            "X-Request-ID": "req-42",
            "traceparent": TRACEPARENT,
        },
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["camera_id"] == "cam-a"
    assert body["status"] == "queued"
    assert not body["duplicate"]
    assert response.headers["location"] == f"/v1/frames/{body['frame_id']}"
    assert response.headers["x-request-id"] == "req-42"

    async def delivered() -> bool:
        return await frame_status(client, body["frame_id"]) == "delivered"

    await eventually(delivered, what="frame delivered")
    frame = (await client.get(f"/v1/frames/{body['frame_id']}")).json()
    assert frame["classification"]["label"] == "cat"
    assert frame["space_id"] == "kennel-a"
    sent = downstream.observation_posts[-1]
    assert sent["body"]["frame_id"] == body["frame_id"]
    assert sent["body"]["model_version"] == "7"
    assert sent["body"]["space_id"] == "kennel-a"
    assert sent["headers"]["x-request-id"] == "req-42"
    assert sent["headers"]["traceparent"] == TRACEPARENT  # stored with the frame, passed on
    assert downstream.predictions[-1]["headers"]["x-request-id"] == "req-42"
    assert downstream.predictions[-1]["headers"]["traceparent"] == TRACEPARENT
    assert downstream.predictions[-1]["headers"]["content-type"] == "image/jpeg"
    camera = (await client.get("/v1/cameras/cam-a")).json()
    assert camera["status"]["frames"]["accepted"] == 1
    assert camera["status"]["state"] == "online"


async def test_same_idempotency_key_gives_the_same_frame(client: httpx.AsyncClient) -> None:
    await add_camera(client, "cam-b")
    headers = {"Content-Type": "image/jpeg", "Idempotency-Key": "upload-1"}
    first = await client.put("/v1/cameras/cam-b/frame", content=jpeg(1), headers=headers)
    again = await client.put("/v1/cameras/cam-b/frame", content=jpeg(2), headers=headers)
    assert first.status_code == again.status_code == 202
    assert first.json()["frame_id"] == again.json()["frame_id"]
    assert again.json()["duplicate"] is True
    other = await client.put(
        "/v1/cameras/cam-b/frame",
        content=jpeg(3),
        headers={**headers, "Idempotency-Key": "upload-2"},
    )
    assert other.json()["frame_id"] != first.json()["frame_id"]


async def test_same_bytes_within_the_window_are_one_frame(client: httpx.AsyncClient) -> None:
    await add_camera(client, "cam-c")
    await add_camera(client, "cam-d")
    headers = {"Content-Type": "image/jpeg"}
    one = await client.put("/v1/cameras/cam-c/frame", content=jpeg(5), headers=headers)
    two = await client.put("/v1/cameras/cam-c/frame", content=jpeg(5), headers=headers)
    other_camera = await client.put("/v1/cameras/cam-d/frame", content=jpeg(5), headers=headers)
    assert one.json()["frame_id"] == two.json()["frame_id"]
    assert other_camera.json()["frame_id"] != one.json()["frame_id"]


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code"),
    [
        (b"hello", "text/plain", 415, "unsupported-media-type"),
        (b"not an image at all", "image/jpeg", 422, "undecodable-image"),
        (b"", "image/jpeg", 422, "undecodable-image"),
        (b"\xff\xd8\xff\xe0 truncated", "image/jpeg", 422, "undecodable-image"),
        (jpeg(1), "image/png", 422, "undecodable-image"),
        (b"x" * 5000, "image/jpeg", 413, "frame-too-large"),
        (png_header(20_000, 20_000), "image/png", 413, "image-too-large"),
    ],
)
async def test_bad_frames_are_problems(
    small: httpx.AsyncClient, content: bytes, content_type: str, status: int, code: str
) -> None:
    await add_camera(small, "cam-e")
    response = await small.put(
        "/v1/cameras/cam-e/frame", content=content, headers={"Content-Type": content_type}
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == PROBLEMS + code
    assert problem["title"] == code.replace("-", " ").capitalize()
    assert problem["status"] == status
    assert problem["instance"] == "/v1/cameras/cam-e/frame"
    assert problem["request_id"] == response.headers["x-request-id"]
    camera = (await small.get("/v1/cameras/cam-e")).json()
    assert camera["status"]["frames"]["failed"] == 1
    assert (await small.get("/v1/outbox")).json()["depth"] == 0


async def test_a_streamed_body_without_a_length_is_bounded(small: httpx.AsyncClient) -> None:
    await add_camera(small, "cam-s")

    async def body() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield b"\xff\xd8\xff" + b"x" * 2000

    response = await small.put(
        "/v1/cameras/cam-s/frame", content=body(), headers={"Content-Type": "image/jpeg"}
    )
    assert response.status_code == 413, response.text
    assert response.json()["type"] == PROBLEMS + "frame-too-large"


async def test_unknown_and_disabled_cameras(client: httpx.AsyncClient) -> None:
    response = await client.put(
        "/v1/cameras/nope/frame", content=jpeg(), headers={"Content-Type": "image/jpeg"}
    )
    assert response.status_code == 404
    assert response.json()["type"] == PROBLEMS + "camera-not-found"
    await add_camera(client, "cam-off", enabled=False)
    response = await client.put(
        "/v1/cameras/cam-off/frame", content=jpeg(), headers={"Content-Type": "image/jpeg"}
    )
    assert response.status_code == 409
    assert response.json()["type"] == PROBLEMS + "camera-disabled"


async def test_full_outbox_answers_503_with_retry_after(
    small: httpx.AsyncClient, downstream: Downstream
) -> None:
    client = small  # INGEST_OUTBOX_MAX_DEPTH=3
    downstream.classifier_status = 503  # nothing leaves the outbox
    await add_camera(client, "cam-f")
    headers = {"Content-Type": "image/jpeg"}
    for seed in range(3):
        ok = await client.put("/v1/cameras/cam-f/frame", content=jpeg(seed), headers=headers)
        assert ok.status_code == 202
    full = await client.put("/v1/cameras/cam-f/frame", content=jpeg(9), headers=headers)
    assert full.status_code == 503
    assert full.headers["content-type"] == "application/problem+json"
    assert full.json()["type"] == PROBLEMS + "outbox-full"
    assert full.headers["retry-after"] == "5"  # INGEST_RETRY_AFTER_S
    outbox = (await client.get("/v1/outbox")).json()
    assert outbox["depth"] == 3
    assert outbox["max_depth"] == 3
    downstream.classifier_status = 200

    async def drained() -> bool:
        return bool((await client.get("/v1/outbox")).json()["depth"] == 0)

    await eventually(drained, what="outbox drained")
    again = await client.put("/v1/cameras/cam-f/frame", content=jpeg(9), headers=headers)
    assert again.status_code == 202
