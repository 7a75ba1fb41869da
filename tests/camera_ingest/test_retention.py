"""Retention of the frame archive, measured on disk: the byte limit holds under load (real file
sizes, sampled while frames flow), the oldest go first, count and age limits per camera, a
camera always keeps its latest frame, a deleted camera's frames go, orphan files are swept."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from camera_ingest.config import Settings
from camera_ingest.framestore import DiskFrameStore
from camera_ingest.main import create_app
from tests.camera_ingest.conftest import (
    add_camera,
    app_client,
    eventually,
    files_on_disk,
    jpeg,
    push,
    wait_delivered,
)

pytestmark = pytest.mark.anyio


def metric(text: str, line: str) -> float:
    for row in text.splitlines():
        if row.startswith(line + " "):
            return float(row.split()[-1])
    raise AssertionError(f"no metric {line}")


async def listed(client: httpx.AsyncClient, **params: Any) -> list[str]:
    page = (await client.get("/v1/frames/archive", params={"limit": 1000, **params})).json()
    return [f["frame_id"] for f in page["frames"]]


async def drained(client: httpx.AsyncClient) -> None:
    async def empty() -> bool:
        return bool((await client.get("/v1/outbox")).json()["depth"] == 0)

    await eventually(empty, within=60, what="every frame delivered")


@pytest.fixture
async def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(app) as c:
        yield c


def with_limits(settings: Settings, **limits: Any) -> FastAPI:
    return create_app(settings.model_copy(update={f"archive_{k}": v for k, v in limits.items()}))


class MeasuredDisk(DiskFrameStore):
    """The real disk store, measuring the folder at its fullest: right after each write."""

    def __init__(self, root: Path, after_writes: list[int]) -> None:
        super().__init__(root)
        self.after_writes = after_writes

    async def put(self, frame_id: str, data: bytes) -> None:
        await super().put(frame_id, data)
        self.after_writes.append(sum(files_on_disk(self.root.parent).values()))


async def test_bytes_on_disk_stay_under_the_limit_under_load(
    settings: Settings, archive_dir: Path
) -> None:
    limit = 16_000  # about 24 of these frames; 120 are pushed by 3 cameras, 4 workers deliver
    after_writes: list[int] = []
    app = create_app(
        # 4 deliveries at once, as the tolerance below assumes (the default is 8 since issue
        # 15): each writer that evicts to fit its own frame may free up to one frame more
        settings.model_copy(update={"archive_max_bytes": limit, "worker_concurrency": 4}),
        frame_stores=lambda namespace: MeasuredDisk(archive_dir / namespace, after_writes),
    )
    samples: list[int] = []
    stop = asyncio.Event()

    async def sample() -> None:  # and every 10 ms, whatever is being written
        while not stop.is_set():
            samples.append(sum(files_on_disk(archive_dir).values()))
            await asyncio.sleep(0.01)

    async with app_client(app) as client:
        for camera in ("l1", "l2", "l3"):
            await add_camera(client, camera)
        sampler = asyncio.create_task(sample())
        frames: list[str] = []
        for seed in range(40):  # three cameras at once, forty times
            cameras = enumerate(("l1", "l2", "l3"))
            frames += await asyncio.gather(
                *[push(client, c, jpeg(seed * 3 + i, (48, 36))) for i, c in cameras]
            )
        await drained(client)
        stop.set()
        await sampler
        on_disk = files_on_disk(archive_dir)
        text = (await client.get("/metrics")).text
        retained = await listed(client)
    size = sum(on_disk.values())
    print(f"byte limit {limit}: at most {max(after_writes)} right after {len(after_writes)} "
          f"writes, {max(samples)} in {len(samples)} samples; final {size} in {len(on_disk)} "
          f"files; {len(frames)} frames pushed")  # fmt: skip
    assert len(after_writes) == len(frames)
    assert max(after_writes) <= limit
    assert max(samples) <= limit
    assert limit - 2 * max(on_disk.values()) < size <= limit  # full, not over
    assert metric(text, "ingest_archive_bytes") == size  # the index counts what is on disk
    assert metric(text, "ingest_archive_files") == len(on_disk) == len(retained)
    evicted = metric(text, 'ingest_archive_evictions_total{reason="bytes"}')
    assert evicted == len(frames) - len(retained)
    assert metric(text, "ingest_archive_write_failures_total") == 0


async def test_the_oldest_go_first_and_every_camera_keeps_its_latest(
    settings: Settings, archive_dir: Path
) -> None:
    one_worker = settings.model_copy(update={"worker_concurrency": 1})
    frame = jpeg(0, (48, 36))
    app = with_limits(one_worker, max_bytes=6 * len(frame) + len(frame) // 2)
    async with app_client(app) as client:
        await add_camera(client, "old")
        await add_camera(client, "new")
        quiet = await push(client, "old", jpeg(1, (48, 36)))  # the first, and old's only frame
        await wait_delivered(client, quiet)
        later = []
        for seed in range(2, 12):
            later.append(await push(client, "new", jpeg(seed, (48, 36))))
            await wait_delivered(client, later[-1])
        retained = await listed(client)
        latest = (await client.get("/v1/cameras/old/latest.jpg")).headers["x-frame-id"]
    assert latest == quiet  # the oldest frame of all, but old's latest: kept
    assert retained == [quiet, *later[-5:]]  # then the newest that fit; the oldest went first
    assert len(files_on_disk(archive_dir)) == 6


async def test_the_latest_frame_stays_even_over_every_limit(
    settings: Settings, archive_dir: Path
) -> None:
    app = with_limits(settings, max_bytes=1, max_per_camera=1)
    async with app_client(app) as client:
        ids: dict[str, list[str]] = {"x": [], "y": []}
        for camera in ids:
            await add_camera(client, camera)
            for seed in range(3):
                ids[camera].append(await push(client, camera, jpeg(seed + ord(camera))))
        await wait_delivered(client, *ids["x"], *ids["y"])
        await app.state.archive.maintain()
        assert sorted(await listed(client)) == sorted([ids["x"][-1], ids["y"][-1]])
        for camera, frames in ids.items():
            latest = await client.get(f"/v1/cameras/{camera}/latest.jpg")
            assert latest.headers["x-frame-id"] == frames[-1]
            gone = await client.get(f"/v1/frames/{frames[0]}/image")
            assert gone.json()["type"].endswith("/frame-not-retained")
    assert len(files_on_disk(archive_dir)) == 2


async def test_count_per_camera(settings: Settings) -> None:
    app = with_limits(settings, max_per_camera=3)
    async with app_client(app) as client:
        await add_camera(client, "busy")
        await add_camera(client, "calm")
        busy = [await push(client, "busy", jpeg(seed)) for seed in range(6)]
        calm = await push(client, "calm", jpeg(50))
        await wait_delivered(client, *busy, calm)
        await app.state.archive.maintain()  # deliveries race: the periodic pass settles it
        kept = await listed(client, camera_id="busy")
        assert len(kept) == 3
        assert set(kept) == set(sorted(kept, key=busy.index)[-3:])
        assert await listed(client, camera_id="calm") == [calm]
        text = (await client.get("/metrics")).text
    assert metric(text, 'ingest_archive_evictions_total{reason="count"}') == 3


async def test_age(client: httpx.AsyncClient, app: FastAPI) -> None:
    await add_camera(client, "a1")
    await add_camera(client, "a2")
    first = [await push(client, "a1", jpeg(seed)) for seed in range(3)]
    second = [await push(client, "a2", jpeg(seed)) for seed in range(10, 12)]
    await wait_delivered(client, *first, *second)
    await app.state.archive.maintain(int(time.time() * 1000) + 3600 * 1000)  # an hour on: kept
    assert len(await listed(client)) == 5
    await app.state.archive.maintain(int(time.time() * 1000) + 2 * 86400 * 1000)  # two days
    assert await listed(client) == [first[-1], second[-1]]  # each camera keeps its latest
    text = (await client.get("/metrics")).text
    assert metric(text, 'ingest_archive_evictions_total{reason="age"}') == 3


async def test_deleting_a_camera_deletes_its_frames(
    client: httpx.AsyncClient, archive_dir: Path
) -> None:
    await add_camera(client, "bye")
    await add_camera(client, "stay")
    bye = [await push(client, "bye", jpeg(seed)) for seed in range(3)]
    stay = await push(client, "stay", jpeg(20))
    await wait_delivered(client, *bye, stay)
    assert len(files_on_disk(archive_dir)) == 4
    assert (await client.delete("/v1/cameras/bye")).status_code == 204
    assert await listed(client) == [stay]
    assert len(files_on_disk(archive_dir)) == 1
    assert (await client.get(f"/v1/frames/{bye[0]}/image")).status_code == 404
    gone = await client.get("/v1/cameras/bye/latest.jpg")
    assert gone.json()["type"].endswith("/camera-not-found")


async def test_a_frame_delivered_after_its_camera_was_deleted_is_not_archived(
    settings: Settings, archive_dir: Path
) -> None:
    idle = create_app(settings.model_copy(update={"worker_enabled": False}))
    async with app_client(idle) as client:
        await add_camera(client, "brief")
        frame_id = await push(client, "brief", jpeg(7))
        assert (await client.delete("/v1/cameras/brief")).status_code == 204
    async with app_client(create_app(settings)) as client:
        await wait_delivered(client, frame_id)
        assert await listed(client) == []
    assert files_on_disk(archive_dir) == {}


async def test_orphan_files_are_swept_after_their_grace(
    client: httpx.AsyncClient, app: FastAPI, archive_dir: Path
) -> None:
    """A crash between the file and its metadata leaves a file no metadata names."""
    await add_camera(client, "orph")
    kept = await push(client, "orph", jpeg(1))
    await wait_delivered(client, kept)
    store = await app.state.archive.store()
    assert isinstance(store, DiskFrameStore)
    await store.put("0" * 32, b"written, then the process died")  # no metadata
    crashed_tmp = store.root / "00" / f".{'1' * 32}.abcd1234.tmp"  # died mid-write
    crashed_tmp.write_bytes(b"half a frame")
    hour_ago = time.time() - 3600
    os.utime(crashed_tmp, (hour_ago, hour_ago))
    now = int(time.time() * 1000)
    await app.state.archive.maintain(now)  # within the 300 s grace: might be a write under way
    assert len(files_on_disk(archive_dir)) == 2  # the orphan stays; the stale tmp is gone
    await app.state.archive.maintain(now + 301_000)
    on_disk = files_on_disk(archive_dir)
    assert list(on_disk) == [f"{store.root.name}/{kept[:2]}/{kept}"]
    text = (await client.get("/metrics")).text
    assert metric(text, "ingest_archive_orphans_removed_total") == 1


async def test_a_redelivered_frame_is_archived_once(
    client: httpx.AsyncClient, app: FastAPI, archive_dir: Path
) -> None:
    """A crash after the archive write, before FINISH: the frame is delivered again."""
    await add_camera(client, "twice")
    frame_id = await push(client, "twice", jpeg(3))
    await wait_delivered(client, frame_id)
    record = await app.state.outbox.load(frame_id)
    assert record.classification is not None
    before = await app.state.archive.index.totals()
    assert await app.state.archive.keep(record, record.classification, jpeg(3))
    assert await app.state.archive.index.totals() == before == (len(jpeg(3)), 1)
    assert len(files_on_disk(archive_dir)) == 1
