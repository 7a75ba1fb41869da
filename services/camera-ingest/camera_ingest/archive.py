"""The frame archive: delivered frames with their classification, kept for a bounded retention
(`retention`), the latest frame of every camera always, and a listing in capture order.

Where the bytes are, and why. A frame's bytes stay in Redis, in the outbox, until it is
delivered, as before; the delivery worker copies them to the archive (a `FrameStore`: a disk
folder today) just before it marks the frame delivered, and the outbox's FINISH then deletes
them from Redis. We chose that over writing every upload to disk before its 202 because:
- the 202 keeps its guarantee unchanged: one atomic Redis script, no disk on the intake path, so
  a full or failing disk never refuses nor loses an accepted frame;
- the outbox stays shared through Redis: any replica's worker can deliver any frame, whatever
  disk (or none) it has;
- Redis holds at most the undelivered frames (bounded by INGEST_OUTBOX_MAX_DEPTH), as before; the
  archive, which is most of the bytes, is never in Redis memory.
The archive is best effort for delivered frames: `keep` never raises; a failed or timed-out
write (ENOSPC, EDQUOT, any OSError, Redis down) is logged and counted in
`ingest_archive_write_failures_total`, and the delivery completes all the same.

A write: make room under the byte limit, then the file (fsynced, renamed into place), then its
metadata (`ArchiveIndex.add`, one script), then the count and age limits. A crash between the
file and the metadata leaves an orphan file, removed by the sweep after its grace; a crash
before FINISH redelivers the frame, and the archive, which has it already, keeps it once.
Room is made under one lock per process, counting the writes under way, so concurrent
workers cannot overshoot the byte limit while their writes (and fsyncs) overlap.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from camera_ingest.archive_index import ArchivedFrame, ArchiveIndex, position
from camera_ingest.errors import (
    ArchiveUnavailable,
    CameraNotFound,
    FrameNotRetained,
    NoFrameYet,
    StoreUnavailable,
)
from camera_ingest.framestore import FrameStore, StoreFactory
from camera_ingest.metrics import Metrics
from camera_ingest.outbox import OutboxRecord
from camera_ingest.retention import Retention
from camera_ingest.schemas import Classification

log = logging.getLogger(__name__)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MS = timedelta(milliseconds=1)


def now_ms() -> int:
    return int(time.time() * 1000)


def ms_ceil(at: datetime) -> int:
    """The first whole millisecond at or after `at` (capture times are whole milliseconds)."""
    return -((EPOCH - at) // MS)


@dataclass(frozen=True)
class Page:
    frames: list[ArchivedFrame]
    next_cursor: str | None


class Archive:
    def __init__(
        self,
        *,
        index: ArchiveIndex,
        stores: StoreFactory,
        retention: Retention,
        metrics: Metrics,
        write_timeout_s: float,
        sweep_interval_s: float,
    ) -> None:
        self.index = index
        self.stores = stores
        self.retention = retention
        self.metrics = metrics
        self.write_timeout_s = write_timeout_s
        self.sweep_interval_s = sweep_interval_s
        self._store: FrameStore | None = None
        self._lock = asyncio.Lock()  # the byte limit's accounting, in this process
        self._writing = 0  # bytes of the writes under way (room is made for them)

    async def store(self) -> FrameStore:
        """The store of this keyspace's namespace, opened once Redis has named it."""
        if self._store is None:
            namespace = await self.index.namespace()
            if self._store is None:  # no other task opened it while we asked Redis
                self._store = self.stores(namespace)
        return self._store

    async def keep(self, record: OutboxRecord, classification: Classification, data: bytes) -> bool:
        """Archive a delivered frame, best effort: False (logged, counted) when it could not."""
        try:
            async with asyncio.timeout(self.write_timeout_s):
                return await self._keep(record, classification, data)
        except TimeoutError:  # an OSError too: first
            self._failed(record, f"timed out after {self.write_timeout_s}s")
        except OSError as exc:
            self._failed(record, f"{errno.errorcode.get(exc.errno or 0, 'OSError')}: {exc}")
        except StoreUnavailable as exc:
            self._failed(record, str(exc))
        except Exception:  # best effort: a bug here must not stop deliveries
            log.exception("archive write failed unexpectedly", extra={"frame_id": record.frame_id})
            self.metrics.archive_write_failures.inc()
        return False

    async def _keep(
        self, record: OutboxRecord, classification: Classification, data: bytes
    ) -> bool:
        frame = ArchivedFrame(
            frame_id=record.frame_id,
            camera_id=record.camera_id,
            space_id=record.space_id,
            captured_at=record.captured_at,
            captured_ms=_captured_ms(record.captured_at),
            content_type=record.content_type,
            size=len(data),
            classification=classification,
        )
        store = await self.store()
        async with self._lock:  # room for this frame and for those being written right now
            await self.retention.make_room(store, frame.size + self._writing)
            self._writing += frame.size
        try:  # the fsync outside the lock: writes of several workers overlap
            await store.put(frame.frame_id, data)  # a redelivery writes the same bytes again
            added = await self.index.add(frame)
        finally:
            self._writing -= frame.size
        if added.outcome == "camera-gone":
            await store.delete(frame.frame_id)  # deleted while in flight: its frames go too
            return False
        async with self._lock:
            await self.retention.after_write(store, added, frame.camera_id, now_ms())
        if added.outcome == "new":
            self.metrics.archive_writes.inc()
        return True

    def _failed(self, record: OutboxRecord, reason: str) -> None:
        self.metrics.archive_write_failures.inc()
        log.warning(
            "archive write failed; the frame is delivered all the same: %s",
            reason,
            extra={"frame_id": record.frame_id, "camera_id": record.camera_id},
        )

    async def image(self, frame_id: str) -> tuple[ArchivedFrame, bytes]:
        frame = await self.index.get(frame_id)
        if frame is None:
            raise FrameNotRetained(
                f"frame {frame_id!r} is not in the archive (not delivered yet, never archived, "
                "or past its retention)"
            )
        return frame, await self._bytes(frame)

    async def latest(self, camera_id: str) -> tuple[ArchivedFrame, bytes]:
        exists, frame = await self.index.latest(camera_id)
        if not exists:
            raise CameraNotFound(f"no camera {camera_id!r}")
        if frame is None:
            raise NoFrameYet(f"camera {camera_id!r} has no delivered frame in the archive yet")
        return frame, await self._bytes(frame)

    async def _bytes(self, frame: ArchivedFrame) -> bytes:
        try:
            data = await (await self.store()).get(frame.frame_id)
        except OSError as exc:
            raise ArchiveUnavailable(f"the archive cannot be read: {exc.strerror}") from exc
        if data is None or len(data) != frame.size:
            log.warning("archived frame file missing or short", extra={"frame_id": frame.frame_id})
            raise FrameNotRetained(f"frame {frame.frame_id!r}: its archived bytes are missing")
        return data

    async def page(
        self,
        *,
        camera_id: str | None,
        space_id: str | None,
        since: datetime | None,
        until: datetime | None,
        cursor: str | None,
        limit: int,
    ) -> Page:
        """Frames captured in [since, until), in capture order, after `cursor`."""
        lower = f"[{position(ms_ceil(since))}" if since else "-"
        if cursor and (lower == "-" or cursor >= lower[1:]):
            lower = f"({cursor}"
        upper = f"({position(ms_ceil(until))}" if until else "+"
        frames, next_cursor = await self.index.page(
            camera_id=camera_id, space_id=space_id, lower=lower, upper=upper, limit=limit
        )
        return Page(frames=frames, next_cursor=next_cursor)

    async def forget_camera(self, camera_id: str) -> None:
        """A deleted camera's frames. Best effort too: what fails now, the next sweep finishes."""
        try:
            removed = await self.retention.forget_camera(await self.store(), camera_id)
        except (StoreUnavailable, OSError) as exc:
            log.warning("archive: deleted camera %s's frames left to the sweep: %s", camera_id, exc)
            return
        if removed:
            log.info("archive: removed %d frames of deleted camera %s", removed, camera_id)

    async def maintain(self, now: int | None = None) -> None:
        """One periodic pass: every limit, then the sweeps."""
        at = now if now is not None else now_ms()
        store = await self.store()
        async with self._lock:
            await self.retention.enforce(store, at)
        await self.retention.sweep(store, at)

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                await self.maintain()
            except (StoreUnavailable, OSError) as exc:
                log.warning("archive maintenance: %s", exc)
            except Exception:
                log.exception("archive maintenance failed unexpectedly")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self.sweep_interval_s)

    async def close(self) -> None:
        if self._store is not None:
            await self._store.close()


def _captured_ms(captured_at: str) -> int:
    try:
        at = datetime.fromisoformat(captured_at)
    except ValueError:
        return now_ms()
    return ms_ceil(at if at.tzinfo else at.replace(tzinfo=UTC))
