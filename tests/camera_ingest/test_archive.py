"""The frame archive's routes: the latest frame of a camera, a retained frame's image, and the
listing batch replays read (its exact field names, capture order, a stable cursor, 422s)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image

from camera_ingest.config import Settings
from camera_ingest.main import create_app
from camera_ingest.outbox import OutboxRecord
from camera_ingest.schemas import Classification
from tests.camera_ingest.conftest import (
    Downstream,
    add_camera,
    app_client,
    files_on_disk,
    jpeg,
    push,
    wait_delivered,
)

pytestmark = pytest.mark.anyio
PROBLEMS = "https://shelter-watch.example/problems/"
FRAME_FIELDS = {
    "frame_id",
    "camera_id",
    "space_id",
    "captured_at",
    "content_type",
    "bytes",
    "classification",
}


def png(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 12), (seed, 40, 200)).save(buf, "PNG")
    return buf.getvalue()


async def test_latest_frame_of_a_camera_with_its_headers(
    client: httpx.AsyncClient, downstream: Downstream, archive_dir: Path
) -> None:
    await add_camera(client, "lat")
    none_yet = await client.get("/v1/cameras/lat/latest.jpg")
    assert none_yet.status_code == 404
    assert none_yet.json()["type"] == PROBLEMS + "no-frame-yet"
    unknown = await client.get("/v1/cameras/nobody/latest.jpg")
    assert unknown.json()["type"] == PROBLEMS + "camera-not-found"

    first = await push(client, "lat", jpeg(1))
    second = await push(client, "lat", jpeg(2))
    await wait_delivered(client, first, second)
    latest = await client.get("/v1/cameras/lat/latest.jpg")
    assert latest.status_code == 200, latest.text
    assert latest.content == jpeg(2)
    assert latest.headers["content-type"] == "image/jpeg"
    assert latest.headers["x-frame-id"] == second
    assert latest.headers["etag"] == f'"{second}"'
    assert latest.headers["cache-control"] == "no-cache"
    frame = (await client.get(f"/v1/frames/{second}")).json()
    assert latest.headers["x-captured-at"] == frame["captured_at"]
    assert latest.headers["last-modified"].endswith(" GMT")
    same = await client.get("/v1/cameras/lat/latest", headers={"If-None-Match": f'"{second}"'})
    assert same.status_code == 304
    assert same.content == b""
    head = await client.head("/v1/cameras/lat/latest.jpg")
    assert head.status_code == 200
    assert head.headers["x-frame-id"] == second
    assert sum(files_on_disk(archive_dir).values()) == len(jpeg(1)) + len(jpeg(2))


async def test_a_png_frame_is_served_as_a_png_under_either_name(
    client: httpx.AsyncClient,
) -> None:
    await add_camera(client, "pngcam")
    frame_id = await push(client, "pngcam", png(3), "image/png")
    await wait_delivered(client, frame_id)
    for path in ("/v1/cameras/pngcam/latest", "/v1/cameras/pngcam/latest.jpg"):
        response = await client.get(path)
        assert response.headers["content-type"] == "image/png", path
        assert response.content == png(3)


async def test_a_retained_frame_has_an_image_and_an_unknown_one_is_404(
    client: httpx.AsyncClient,
) -> None:
    await add_camera(client, "img")
    frame_id = await push(client, "img", jpeg(4))
    await wait_delivered(client, frame_id)
    image = await client.get(f"/v1/frames/{frame_id}/image")
    assert image.status_code == 200
    assert image.content == jpeg(4)
    assert image.headers["x-frame-id"] == frame_id
    assert "immutable" in image.headers["cache-control"]
    missing = await client.get("/v1/frames/0123456789abcdef/image")
    assert missing.status_code == 404
    assert missing.json()["type"] == PROBLEMS + "frame-not-retained"
    bad = await client.get("/v1/frames/a.b/image")
    assert bad.status_code == 422


async def test_the_archive_keeps_the_classification_and_prediction_id(
    client: httpx.AsyncClient, downstream: Downstream
) -> None:
    await add_camera(client, "cls", space_id="kennel-9")
    frame_id = await push(client, "cls", jpeg(5))
    await wait_delivered(client, frame_id)
    page = (await client.get("/v1/frames/archive", params={"camera_id": "cls"})).json()
    assert page["next_cursor"] is None
    [frame] = page["frames"]
    assert set(frame) == FRAME_FIELDS  # the names the batch service reads
    assert frame["frame_id"] == frame_id
    assert frame["space_id"] == "kennel-9"
    assert frame["content_type"] == "image/jpeg"
    assert frame["bytes"] == len(jpeg(5))
    assert frame["classification"] == {
        "label": "cat",
        "probabilities": {"cat": 0.9, "dog": 0.05, "other": 0.05},
        "model": "test-model",
        "version": "7",
        "prediction_id": "p",
        "role": None,  # this stand-in classifier names no deployment role or strategy
        "strategy": None,
    }
    # the classifier is told the camera (its sticky A/B key); the aggregator the model version
    assert downstream.predictions[-1]["headers"]["x-camera-id"] == "cls"
    observed = downstream.observation_posts[-1]["body"]
    assert (observed["model"], observed["model_version"]) == ("test-model", "7")
    assert observed["prediction_id"] == "p"  # passed on, for the space's frames and feedback
    assert "role" not in observed  # what the classifier did not say is left out, not null


# --- the listing, over frames archived with chosen capture times ------------------------------


def record(frame_id: str, camera: str, space: str, captured_at: str) -> OutboxRecord:
    return OutboxRecord(
        frame_id=frame_id,
        camera_id=camera,
        space_id=space,
        status="classified",
        source="push",
        captured_at=captured_at,
        content_type="image/jpeg",
        request_id=None,
        traceparent=None,
        attempts=0,
        last_error=None,
        classification=None,
    )


LABEL = Classification(
    label="dog", probabilities={"dog": 1.0}, model="m", version="2", prediction_id="q"
)
# (frame id, camera, space, capture time): two cameras, one moved to another space, a tie
FRAMES = [
    ("f0", "a", "s1", "2026-11-28T10:00:00.000Z"),
    ("f1", "b", "s2", "2026-11-28T10:00:01.000Z"),
    ("f3", "a", "s1", "2026-11-28T10:00:02.000Z"),
    ("f2", "b", "s2", "2026-11-28T10:00:02.000Z"),  # same millisecond as f3: by id, f2 first
    ("f4", "a", "s2", "2026-11-28T10:00:03.000Z"),
    ("f5", "a", "s1", "2026-11-28T10:00:04.500Z"),
]
IN_ORDER = ["f0", "f1", "f2", "f3", "f4", "f5"]


@pytest.fixture
async def app(settings: Settings) -> FastAPI:
    """No workers; an age limit that keeps these capture times (days in the past)."""
    fixed = {"worker_enabled": False, "archive_max_age_s": 10 * 365 * 86400}
    return create_app(settings.model_copy(update=fixed))


@pytest.fixture
async def listing(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(app) as client:
        await add_camera(client, "a", space_id="s1")
        await add_camera(client, "b", space_id="s2")
        for frame_id, camera, space, at in reversed(FRAMES):  # archived out of order
            data = jpeg(int(frame_id[1:]))
            assert await app.state.archive.keep(record(frame_id, camera, space, at), LABEL, data)
        yield client


async def ids(client: httpx.AsyncClient, **params: Any) -> list[str]:
    """Every page of the listing, following the cursor."""
    found: list[str] = []
    cursor = None
    for _ in range(100):  # a cursor that does not move on would page forever
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/v1/frames/archive", params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        found += [f["frame_id"] for f in page["frames"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return found
        assert page["frames"], "a page with a cursor has frames"
    raise AssertionError(f"still paging after 100 pages: {found[:20]}...")


async def test_listing_is_in_capture_order_whatever_the_page_size(
    listing: httpx.AsyncClient,
) -> None:
    for limit in (1, 2, 4, 5, 6, 1000):
        assert await ids(listing, limit=limit) == IN_ORDER, limit
    last = (await listing.get("/v1/frames/archive", params={"limit": 6})).json()
    assert last["next_cursor"] is None  # exactly the last page: no empty page after it


async def test_listing_filters_by_camera_space_and_time_range(
    listing: httpx.AsyncClient,
) -> None:
    assert await ids(listing, camera_id="a", limit=1) == ["f0", "f3", "f4", "f5"]
    assert await ids(listing, space_id="s2", limit=2) == ["f1", "f2", "f4"]
    assert await ids(listing, camera_id="a", space_id="s1", limit=1) == ["f0", "f3", "f5"]
    window = {"since": "2026-11-28T10:00:01Z", "until": "2026-11-28T10:00:03Z"}
    assert await ids(listing, **window, limit=1) == ["f1", "f2", "f3"]  # [since, until)
    same_instant = {"since": "2026-11-28T11:00:02+01:00", "until": "2026-11-28T10:00:02.001Z"}
    assert await ids(listing, **same_instant) == ["f2", "f3"]
    assert await ids(listing, since="2026-11-28T10:00:04.5001Z") == []
    assert await ids(listing, camera_id="nobody") == []


async def test_the_cursor_is_stable_while_frames_come_and_go(
    listing: httpx.AsyncClient, app: FastAPI
) -> None:
    first = (await listing.get("/v1/frames/archive", params={"limit": 3})).json()
    assert [f["frame_id"] for f in first["frames"]] == ["f0", "f1", "f2"]
    archive = app.state.archive
    # meanwhile: an earlier frame is evicted, a later one and an older late one arrive
    assert await archive.index.evict("f1", keep_latest=True) > 0
    late = record("f9", "b", "s2", "2026-11-28T09:00:00Z")
    newer = record("f6", "a", "s1", "2026-11-28T10:00:09Z")
    for rec in (late, newer):
        assert await archive.keep(rec, LABEL, jpeg(9))
    rest = await ids(listing, cursor=first["next_cursor"], limit=2)
    assert rest == ["f3", "f4", "f5", "f6"]  # after the cursor's position, nothing twice


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "2026-11-28T10:00:00"}, "since"),  # no timezone
        ({"until": "yesterday"}, "until"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"camera_id": "bad id!"}, "camera_id"),
        ({"since": "2026-11-28T10:00:02Z", "until": "2026-11-28T10:00:01Z"}, None),
    ],
)
async def test_bad_listing_queries_are_422_problems(
    client: httpx.AsyncClient, params: dict[str, str], field: str | None
) -> None:
    response = await client.get("/v1/frames/archive", params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == PROBLEMS + "validation-error"
    where = [e["loc"] for e in problem["errors"]]
    if field:
        assert ["query", field] in where, where
    else:
        assert "since must not be after until" in response.text


async def test_since_equal_to_until_is_an_empty_range(listing: httpx.AsyncClient) -> None:
    at = "2026-11-28T10:00:02Z"
    assert await ids(listing, since=at, until=at) == []
