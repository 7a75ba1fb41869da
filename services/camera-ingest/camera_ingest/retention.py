"""Retention of the frame archive: by age, by count per camera and by total bytes, the oldest
(by capture time) first, never a camera's newest frame (a camera always keeps one: the latest,
however old or large). Then the sweeps that make a crash harmless: files without metadata
(a crash between the store's write and the index's) and frames of deleted cameras.

An eviction removes the metadata first (one script, `ArchiveIndex.evict`), then the file: a
crash between the two leaves an orphan file, which the sweep removes after `orphan_grace_s`.
The grace is what protects a file whose metadata is being written right now.

Time is passed in (`now_ms`), so tests can age the archive without waiting.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from camera_ingest.archive_index import GONE, KEPT_LATEST, Added, ArchiveIndex
from camera_ingest.framestore import FrameStore
from camera_ingest.metrics import Metrics

log = logging.getLogger(__name__)
BATCH = 100


@dataclass(frozen=True)
class RetentionPolicy:
    max_age_s: float
    max_per_camera: int
    max_bytes: int
    orphan_grace_s: float


class Retention:
    def __init__(self, *, index: ArchiveIndex, policy: RetentionPolicy, metrics: Metrics) -> None:
        self.index = index
        self.policy = policy
        self.metrics = metrics

    async def make_room(self, store: FrameStore, incoming: int) -> None:
        """Before a write: evict until the archive plus the incoming frame fits the byte limit,
        so the bytes on disk stay under it while the frame is written."""
        await self._bytes(store, self.policy.max_bytes - incoming)

    async def after_write(
        self, store: FrameStore, added: Added, camera_id: str, now_ms: int
    ) -> None:
        """After a write: the camera's count, then age and bytes (the camera's previous newest
        frame, protected until now, may go). What ADD answered says which limit is reached."""
        if added.camera_count > self.policy.max_per_camera:
            await self._count(store, camera_id)
        if added.oldest_ms is not None and added.oldest_ms < self._age_limit(now_ms):
            await self._age(store, now_ms)
        if added.total_bytes > self.policy.max_bytes:
            await self._bytes(store, self.policy.max_bytes)

    async def enforce(self, store: FrameStore, now_ms: int) -> None:
        """Every limit over the whole archive (the periodic pass)."""
        for camera_id in await self.index.cameras():
            await self._count(store, camera_id)
        await self._age(store, now_ms)
        await self._bytes(store, self.policy.max_bytes)

    async def sweep(self, store: FrameStore, now_ms: int) -> int:
        """Remove files no metadata names (older than the grace), then the frames of cameras
        deleted since they were archived. Returns the orphan files removed."""
        grace_ms = int(self.policy.orphan_grace_s * 1000)
        settled = [o for o in await store.scan() if o.modified_ms <= now_ms - grace_ms]
        removed = 0
        for start in range(0, len(settled), 500):
            chunk = settled[start : start + 500]
            known = await self.index.known([o.frame_id for o in chunk])
            for stored, is_known in zip(chunk, known, strict=True):
                if not is_known:
                    await self._delete(store, stored.frame_id)
                    removed += 1
        if removed:
            self.metrics.archive_orphans.inc(removed)
            log.info("archive: removed %d orphan files", removed)
        cameras = await self.index.cameras()
        for camera_id, alive in zip(cameras, await self.index.registered(cameras), strict=True):
            if not alive:
                await self.forget_camera(store, camera_id)
        return removed

    async def forget_camera(self, store: FrameStore, camera_id: str) -> int:
        """Every archived frame of the camera, its newest included."""
        frame_ids = await self.index.camera_frames(camera_id)
        for frame_id in frame_ids:
            await self._evict(store, frame_id, "camera_deleted", keep_latest=False)
        return len(frame_ids)

    async def _count(self, store: FrameStore, camera_id: str) -> None:
        excess = await self.index.camera_count(camera_id) - self.policy.max_per_camera
        if excess > 0:
            for frame_id in await self.index.camera_frames(camera_id, excess):
                await self._evict(store, frame_id, "count")

    def _age_limit(self, now_ms: int) -> int:
        return now_ms - int(self.policy.max_age_s * 1000)

    async def _age(self, store: FrameStore, now_ms: int) -> None:
        before_ms = self._age_limit(now_ms)
        skipped = 0  # cameras' newest frames, kept: they stay at the front of the set
        while ids := await self.index.oldest(offset=skipped, count=BATCH, before_ms=before_ms):
            for frame_id in ids:
                if await self._evict(store, frame_id, "age") < 0:
                    skipped += 1

    async def _bytes(self, store: FrameStore, limit: int) -> None:
        total, _ = await self.index.totals()
        skipped = 0
        while total > limit:
            ids = await self.index.oldest(offset=skipped, count=BATCH)
            if not ids:
                return  # only cameras' newest frames are left: they stay, over the limit
            for frame_id in ids:
                freed = await self._evict(store, frame_id, "bytes")
                if freed < 0:
                    skipped += 1
                total -= max(freed, 0)
                if total <= limit:
                    return
            total, _ = await self.index.totals()  # another replica may have evicted too

    async def _evict(
        self, store: FrameStore, frame_id: str, reason: str, *, keep_latest: bool = True
    ) -> int:
        freed = await self.index.evict(frame_id, keep_latest=keep_latest)
        if freed not in (GONE, KEPT_LATEST):
            self.metrics.archive_evictions.labels(reason).inc()
            await self._delete(store, frame_id)
        return freed

    async def _delete(self, store: FrameStore, frame_id: str) -> None:
        try:
            await store.delete(frame_id)
        except OSError as exc:
            log.warning(
                "archive: could not delete frame file (the orphan sweep retries): %s",
                exc,
                extra={"frame_id": frame_id},
            )
