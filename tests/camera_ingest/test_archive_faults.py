"""A full or failing archive disk: the frame is delivered all the same (the archive is best
effort for delivered frames), the failure is counted and logged, nothing crashes, and the
archive takes frames again once the disk has room."""

from __future__ import annotations

import errno
import logging
from pathlib import Path

import httpx
import pytest

from camera_ingest.config import Settings
from camera_ingest.framestore import FrameStore, StoredObject
from camera_ingest.main import create_app
from tests.camera_ingest.conftest import (
    Downstream,
    add_camera,
    app_client,
    jpeg,
    push,
    wait_delivered,
)

pytestmark = pytest.mark.anyio
FAILURES = "ingest_archive_write_failures_total"


class FlakyDisk:
    """A `FrameStore` in memory whose writes fail with `error` while it is set (a full disk)."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.error: OSError | None = None

    def __call__(self, namespace: str) -> FrameStore:
        return self  # the factory wiring calls with the keyspace's namespace

    async def put(self, frame_id: str, data: bytes) -> None:
        if self.error is not None:
            raise self.error
        self.objects[frame_id] = data

    async def get(self, frame_id: str) -> bytes | None:
        return self.objects.get(frame_id)

    async def delete(self, frame_id: str) -> None:
        self.objects.pop(frame_id, None)

    async def scan(self) -> list[StoredObject]:
        return [StoredObject(k, len(v), 0) for k, v in self.objects.items()]

    async def close(self) -> None:
        pass


async def failures(client: httpx.AsyncClient) -> float:
    for row in (await client.get("/metrics")).text.splitlines():
        if row.startswith(FAILURES + " "):
            return float(row.split()[-1])
    raise AssertionError(f"no {FAILURES}")


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT, errno.EIO])
async def test_a_full_disk_never_stops_a_delivery(
    settings: Settings,
    downstream: Downstream,
    caplog: pytest.LogCaptureFixture,
    code: int,
) -> None:
    disk = FlakyDisk()
    disk.error = OSError(code, "as the disk says")
    async with app_client(create_app(settings, frame_stores=disk)) as client:
        await add_camera(client, "full")
        lost = [await push(client, "full", jpeg(seed)) for seed in range(3)]
        await wait_delivered(client, *lost)  # delivered all the same
        assert sorted(downstream.observations) == sorted(lost)
        assert await failures(client) == 3
        assert disk.objects == {}
        latest = await client.get("/v1/cameras/full/latest.jpg")
        assert latest.json()["type"].endswith("/no-frame-yet")
        listed = (await client.get("/v1/frames/archive")).json()
        assert listed == {"frames": [], "next_cursor": None}

        disk.error = None  # room again
        kept = await push(client, "full", jpeg(9))
        await wait_delivered(client, kept)
        assert (await client.get("/v1/cameras/full/latest.jpg")).content == jpeg(9)
        assert await failures(client) == 3
    logged = [r for r in caplog.records if r.levelno == logging.WARNING and "archive" in r.msg]
    assert len(logged) == 3
    assert errno.errorcode[code] in logged[0].getMessage()
    assert all(getattr(r, "frame_id", None) in lost for r in logged)


async def test_an_archive_folder_that_cannot_be_written_is_a_counted_failure(
    redis_url: str, downstream: Downstream, tmp_path: Path
) -> None:
    """A real OSError from the real DiskFrameStore: the archive's folder is under a file."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the archive's folder should be")
    settings = Settings(
        redis_url=redis_url,
        classifier_url=downstream.url,
        aggregator_url=downstream.url,
        archive_dir=str(blocker / "frames"),
        read_block_ms=100,
    )
    async with app_client(create_app(settings)) as client:
        await add_camera(client, "blocked")
        frame_id = await push(client, "blocked", jpeg(1))
        await wait_delivered(client, frame_id)
        assert await failures(client) == 1
        assert (await client.get("/readyz")).status_code == 200  # best effort: still ready
    assert list(downstream.observations) == [frame_id]


async def test_without_a_folder_the_archive_is_the_process_own_and_goes_with_it(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("INGEST_ARCHIVE_DIR")
    app = create_app(settings.model_copy(update={"archive_dir": ""}))
    async with app_client(app) as client:
        await add_camera(client, "temp")
        frame_id = await push(client, "temp", jpeg(2))
        await wait_delivered(client, frame_id)
        assert (await client.get("/v1/cameras/temp/latest")).content == jpeg(2)
        scratch = app.state.parts.scratch
        assert scratch is not None
        assert [p.name for p in scratch.rglob(frame_id)] == [frame_id]
    assert not scratch.exists()
