"""A camera's status says why it is offline and since when, and shows its dead-lettered frames."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest
import redis

from camera_ingest.cameras import camera_status, frame_rate, rate_keys
from camera_ingest.config import Settings
from camera_ingest.main import create_app
from camera_ingest.outbox import Entry
from tests.camera_ingest.conftest import (
    Downstream,
    SnapshotServer,
    add_camera,
    app_client,
    eventually,
    frame_status,
    jpeg,
)

pytestmark = pytest.mark.anyio


async def status_of(client: httpx.AsyncClient, camera_id: str) -> dict[str, Any]:
    return (await client.get(f"/v1/cameras/{camera_id}")).json()["status"]  # type: ignore[no-any-return]


async def test_a_snapshot_url_answering_404_shows_why_and_since_when(
    loopback_settings: Settings,
) -> None:
    with SnapshotServer() as camera:
        async with app_client(create_app(loopback_settings)) as client:
            url = camera.url("/missing")
            await add_camera(client, "gone", mode="poll", snapshot_url=url, interval_s=0.1)

            async def offline() -> dict[str, Any]:
                status = await status_of(client, "gone")
                return status if status["consecutive_errors"] >= 2 else {}

            status = await eventually(offline, what="the 404 camera offline")
    assert status["state"] == "offline"
    assert status["last_error"] == "snapshot answered HTTP 404"
    assert status["offline_since"] is not None
    assert datetime.fromisoformat(status["offline_since"]) <= datetime.now().astimezone()
    assert status["frames"] == {"accepted": 0, "skipped": 0, "failed": status["frames"]["failed"]}


async def test_offline_since_is_the_first_failure_and_clears_on_recovery(
    loopback_settings: Settings,
) -> None:
    with SnapshotServer() as camera:
        async with app_client(create_app(loopback_settings)) as client:
            await add_camera(
                client, "flaky", mode="poll", snapshot_url=camera.url(), interval_s=0.1
            )

            async def online() -> dict[str, Any]:
                status = await status_of(client, "flaky")
                return status if status["state"] == "online" else {}

            first = await eventually(online, what="flaky online")
            assert first["offline_since"] is None
            await client.patch("/v1/cameras/flaky", json={"snapshot_url": camera.url("/boom")})

            async def offline() -> dict[str, Any]:
                status = await status_of(client, "flaky")
                return status if status["state"] == "offline" else {}

            down = await eventually(offline, what="flaky offline")
            assert down["last_error"] == "snapshot answered HTTP 500"
            assert down["offline_since"] >= first["last_frame_at"]
            later = await eventually(
                lambda: _more_errors(client, down["consecutive_errors"]), what="more failures"
            )
            assert later["offline_since"] == down["offline_since"]  # since the first failure
            await client.patch("/v1/cameras/flaky", json={"snapshot_url": camera.url()})
            back = await eventually(online, what="flaky back")
    assert back["offline_since"] is None
    assert back["last_error"] is None


async def _more_errors(client: httpx.AsyncClient, than: int) -> dict[str, Any]:
    status = await status_of(client, "flaky")
    return status if status["consecutive_errors"] > than else {}


def test_offline_since_of_push_and_never_seen_cameras() -> None:
    base = {"registered_ms": "1000000"}
    never = camera_status("push", base, offline_after=3, push_offline_after_s=60, now_ms=10**7)
    assert never.offline_since == "1970-01-01T00:16:40Z"  # registered, never a frame
    silent = {**base, "last_frame_ms": "2000000"}
    push = camera_status("push", silent, offline_after=3, push_offline_after_s=60, now_ms=10**7)
    assert push.state == "offline"
    assert push.offline_since == "1970-01-01T00:34:20Z"  # last frame + 60 s
    fresh = camera_status("push", silent, offline_after=3, push_offline_after_s=60, now_ms=2000001)
    assert fresh.state == "online"
    assert fresh.offline_since is None


async def push(client: httpx.AsyncClient, camera: str, seed: int) -> str:
    response = await client.put(
        f"/v1/cameras/{camera}/frame", content=jpeg(seed), headers={"Content-Type": "image/jpeg"}
    )
    assert response.status_code == 202, response.text
    return response.json()["frame_id"]  # type: ignore[no-any-return]


async def test_dead_frames_show_on_their_camera(settings: Settings, downstream: Downstream) -> None:
    app = create_app(settings)
    async with app_client(app) as client:
        await add_camera(client, "sad")
        await add_camera(client, "happy")
        downstream.classifier_status = 422  # every frame is refused: dead
        dead = [await push(client, "sad", seed) for seed in (1, 2)]

        async def both_dead() -> bool:
            return all([await frame_status(client, f) == "dead" for f in dead])

        await eventually(both_dead, what="two dead frames")
        status = await status_of(client, "sad")
        assert status["frames_dead"] == 2
        assert "classifier: HTTP 422" in status["last_dead_reason"]
        assert status["last_dead_at"] is not None
        assert status["frames"]["accepted"] == 2  # accepted at intake, dead at delivery
        assert (await status_of(client, "happy"))["frames_dead"] == 0

        # the FINISH of a frame that is dead already (its ack was lost) counts it once only
        record = await app.state.outbox.load(dead[0])
        await app.state.outbox.finish(Entry("0-1", record.frame_id), status="dead", reason="x")
        assert (await status_of(client, "sad"))["frames_dead"] == 2

        downstream.classifier_status = 200
        assert (await client.post(f"/v1/frames/{dead[0]}/redrive")).status_code == 202

        async def delivered() -> bool:
            return await frame_status(client, dead[0]) == "delivered"

        await eventually(delivered, what="redriven frame delivered")
        assert (await status_of(client, "sad"))["frames_dead"] == 2  # a count of deaths


async def test_a_frame_that_dies_after_its_camera_was_deleted_counts_nowhere(
    settings: Settings, downstream: Downstream, redis_url: str
) -> None:
    idle = create_app(settings.model_copy(update={"worker_enabled": False}))
    async with app_client(idle) as client:
        await add_camera(client, "brief")
        frame_id = await push(client, "brief", 7)
        assert (await client.delete("/v1/cameras/brief")).status_code == 204
    downstream.classifier_status = 422
    async with app_client(create_app(settings)) as client:

        async def dead() -> bool:
            return await frame_status(client, frame_id) == "dead"

        await eventually(dead, what="the orphan frame dead")
    with redis.Redis.from_url(redis_url) as r:
        assert r.keys("ingest:camera:*") == []


async def test_frame_rate_counts_the_frames_accepted_in_the_window(
    client: httpx.AsyncClient,
) -> None:
    await add_camera(client, "door", mode="push")
    assert (await status_of(client, "door"))["frame_rate_per_min"] == 0
    for seed in range(3):
        await push(client, "door", seed)
    await push(client, "door", 0)  # the same bytes again: a duplicate is not counted
    status = await status_of(client, "door")
    assert status["frames"]["accepted"] == 3
    # registered moments ago: the window is its first minute, so 3 frames are 3 a minute
    assert status["frame_rate_per_min"] == 3.0


def test_frame_rate_spans_the_window_or_the_time_since_registration() -> None:
    minute = 60_000
    now = 1_000 * minute + 30_000  # half-way through a minute
    assert frame_rate([60], now_ms=now, registered_ms=None) == round(60 * 60 / 330, 2)
    assert frame_rate([10], now_ms=now, registered_ms=now - 120_000) == 5.0
    assert frame_rate([2], now_ms=now, registered_ms=now - 5_000) == 2.0  # at least a minute
    assert len(rate_keys("cam", now)) == 6
    assert rate_keys("cam", now)[-1] == "ingest:camera:cam:accepted:1000"
