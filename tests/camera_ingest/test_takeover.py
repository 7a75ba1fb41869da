"""A crashed consumer's in-flight frames are taken over at once, not after the reclaim idle time:
a consumer holding pending entries without a liveness key is dead (camera_ingest/consumers.py);
one whose key is alive keeps its entries; a graceful stop removes the key."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from camera_ingest.config import Settings
from camera_ingest.consumers import alive_key
from camera_ingest.main import create_app
from camera_ingest.outbox import GROUP, STREAM
from tests.camera_ingest.conftest import Downstream, add_camera, app_client, eventually
from tests.camera_ingest.test_delivery import push, wait_status

pytestmark = pytest.mark.anyio
NEVER_IDLE_ENOUGH = 3600.0  # XAUTOCLAIM's min idle: it cannot be what delivers these frames


async def ghost_holds_a_frame(settings: Settings, r: redis.Redis, camera: str) -> str:
    """A frame read by consumer 'ghost', which then died holding it."""
    async with app_client(create_app(settings.model_copy(update={"worker_enabled": False}))) as c:
        await add_camera(c, camera)
        frame_id = await push(c, camera, 61)
    taken: Any = r.xreadgroup(GROUP, "ghost", {STREAM: ">"}, count=10)
    assert len(taken[0][1]) == 1
    return frame_id


async def test_a_dead_consumers_entries_are_taken_over_at_once(
    settings: Settings, downstream: Downstream, redis_url: str
) -> None:
    r = redis.Redis.from_url(redis_url)
    frame_id = await ghost_holds_a_frame(settings, r, "t1")
    prompt = settings.model_copy(update={"reclaim_min_idle_s": NEVER_IDLE_ENOUGH})
    async with app_client(create_app(prompt)) as client:
        await wait_status(client, frame_id, "delivered")
    assert list(downstream.observations) == [frame_id]
    assert r.xpending(STREAM, GROUP)["pending"] == 0
    names = [c["name"] for c in r.xinfo_consumers(STREAM, GROUP)]
    assert b"ghost" not in names, "a dead consumer holding nothing is forgotten"


async def test_a_live_consumers_entries_stay_its_own(
    settings: Settings, downstream: Downstream, redis_url: str
) -> None:
    r = redis.Redis.from_url(redis_url)
    frame_id = await ghost_holds_a_frame(settings, r, "t2")
    r.set(alive_key("ghost"), b"1", px=60_000)  # alive, merely slow
    prompt = settings.model_copy(update={"reclaim_min_idle_s": NEVER_IDLE_ENOUGH})
    async with app_client(create_app(prompt)) as client:
        own = alive_key(prompt.consumer_name)
        await eventually(lambda: _async(r.exists(own) == 1), what="our own liveness key")
        await _pause(1.0)  # five reclaim passes (reclaim_interval_s is 0.2 s)
        assert r.xpending(STREAM, GROUP)["consumers"] == [{"name": b"ghost", "pending": 1}]
        assert not downstream.observations
        r.delete(alive_key("ghost"))  # now it is dead
        await wait_status(client, frame_id, "delivered")
    assert not r.exists(own), "a graceful stop removes the liveness key"


async def _async(value: Any) -> Any:
    return value


async def _pause(seconds: float) -> None:
    import anyio

    await anyio.sleep(seconds)  # a fixed span in which nothing may happen, not a wait for it
