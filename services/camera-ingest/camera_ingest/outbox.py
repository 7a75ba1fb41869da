"""The durable outbox on Redis Streams: the only module that knows the stream and frame layout.

Layout (all under `ingest:`):
    ingest:outbox              stream, one entry {frame_id} per undelivered frame; group `workers`
    ingest:frame:{id}          hash: the frame's record (status, camera, classification, attempts)
    ingest:frame:{id}:data     the image bytes, with a TTL; deleted once delivered
    ingest:idem:{cam}:key:{k}  Idempotency-Key -> frame id
    ingest:idem:{cam}:sha:{h}  content hash -> frame id, for the dedupe window
    ingest:dead                zset of dead frame ids by time; ingest:frames: recent frame ids
A frame that dies is also counted on its camera's status hash (`cameras.status_key`), in the same
script that marks it dead.

Callers pass an `Origin` in and get an `OutboxRecord` out; no other module reads a hash field.
An entry leaves the stream (XACK + XDEL, atomically with the status change) only when its frame is
delivered or dead, so XLEN is the outbox depth and a crash leaves the entry pending for XAUTOCLAIM.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, cast

from camera_ingest import outbox_scripts as lua
from camera_ingest.cameras import camera_key, status_key
from camera_ingest.errors import FrameNotFound, NotRedrivable, OutboxFull
from camera_ingest.frames import Frame
from camera_ingest.schemas import Classification, FrameStatus
from camera_ingest.store import Redis, ResponseError, translated

STREAM = "ingest:outbox"
GROUP = "workers"
DEAD = "ingest:dead"
RECENT = "ingest:frames"


def frame_key(frame_id: str) -> str:
    return f"ingest:frame:{frame_id}"


def data_key(frame_id: str) -> str:
    return f"ingest:frame:{frame_id}:data"


@dataclass(frozen=True)
class Origin:
    """Where a frame came from, as intake knows it when the frame is stored."""

    camera_id: str
    space_id: str
    source: str  # "push" | "poll"
    captured_at: str
    request_id: str
    traceparent: str | None = None


@dataclass(frozen=True)
class OutboxRecord:
    """A frame's record (`ingest:frame:{id}`), typed."""

    frame_id: str
    camera_id: str
    space_id: str
    status: FrameStatus
    source: str
    captured_at: str
    content_type: str
    request_id: str | None
    traceparent: str | None
    attempts: int
    last_error: str | None
    classification: Classification | None

    @property
    def finished(self) -> bool:
        """Delivered or dead: nothing is left to do but to ack its stream entry."""
        return self.status in ("delivered", "dead")


@dataclass(frozen=True)
class Accepted:
    frame_id: str
    duplicate: bool


@dataclass(frozen=True)
class Entry:
    message_id: str
    frame_id: str | None


@dataclass(frozen=True)
class Stats:
    depth: int
    oldest_age_s: float | None
    pending: int
    dead: int


def _now_ms() -> int:
    return int(time.time() * 1000)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _record(raw: dict[Any, Any]) -> OutboxRecord:
    f = {_text(k): _text(v) for k, v in raw.items()}
    classification = f.get("classification")
    return OutboxRecord(
        frame_id=f["frame_id"],
        camera_id=f["camera_id"],
        space_id=f["space_id"],
        status=cast(FrameStatus, f["status"]),  # written only by ENQUEUE and our scripts
        source=f.get("source", "push"),
        captured_at=f["captured_at"],
        content_type=f["content_type"],
        request_id=f.get("request_id") or None,
        traceparent=f.get("traceparent") or None,
        attempts=int(f.get("attempts", 0)),
        last_error=f.get("last_error") or None,
        classification=Classification.model_validate_json(classification)
        if classification
        else None,
    )


class Outbox:
    def __init__(
        self,
        redis: Redis,
        *,
        max_depth: int,
        data_ttl_s: int,
        record_ttl_s: int,
        idempotency_ttl_s: int,
        dedupe_window_s: int,
        retry_after_s: int = 5,
        reader: Redis | None = None,
    ) -> None:
        self.redis = redis
        self.reader = reader or redis  # the blocking XREADGROUP's client (a longer timeout)
        self.max_depth = max_depth
        self.data_ttl_s = data_ttl_s
        self.record_ttl_s = record_ttl_s
        self.idempotency_ttl_s = idempotency_ttl_s
        self.dedupe_window_s = dedupe_window_s
        self.retry_after_s = retry_after_s
        self._enqueue = redis.register_script(lua.ENQUEUE)
        self._finish = redis.register_script(lua.FINISH)
        self._redrive = redis.register_script(lua.REDRIVE)
        self._classified = redis.register_script(lua.CLASSIFIED)
        self._heartbeat = redis.register_script(lua.HEARTBEAT)

    @translated
    async def ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    @translated
    async def enqueue(
        self,
        frame: Frame,
        origin: Origin,
        *,
        frame_id: str,
        idempotency_key: str | None = None,
        dedupe: bool = True,
    ) -> Accepted:
        """Persist the frame and its stream entry in one atomic script, or find its duplicate."""
        cam = origin.camera_id
        idem = f"ingest:idem:{cam}:key:{idempotency_key}" if idempotency_key else ""
        sha = f"ingest:idem:{cam}:sha:{frame.sha256}" if dedupe and self.dedupe_window_s else ""
        record = {
            "camera_id": origin.camera_id,
            "space_id": origin.space_id,
            "source": origin.source,
            "captured_at": origin.captured_at,
            "request_id": origin.request_id,
            "traceparent": origin.traceparent or "",
            "frame_id": frame_id,
            "status": "queued",
            "attempts": "0",
            "content_type": frame.content_type,
            "sha256": frame.sha256,
        }
        pairs = [item for kv in record.items() for item in kv]
        keys = [STREAM, frame_key(frame_id), data_key(frame_id), RECENT, idem or "-", sha or "-"]
        args: list[bytes | str | int] = [
            frame_id,
            self.max_depth,
            frame.data,
            self.data_ttl_s,
            self.record_ttl_s,
            self.idempotency_ttl_s,
            self.dedupe_window_s,
            _now_ms(),
            int(bool(idem)),
            int(bool(sha)),
            *pairs,
        ]
        kind, found = await self._enqueue(keys=keys, args=args)
        if _text(kind) == "full":
            raise OutboxFull(
                f"outbox holds {self.max_depth} undelivered frames; retry later",
                retry_after_s=self.retry_after_s,
            )
        return Accepted(frame_id=_text(found), duplicate=_text(kind) == "dup")

    @translated
    async def load(self, frame_id: str) -> OutboxRecord:
        raw = await self.redis.hgetall(frame_key(frame_id))
        if not raw:
            raise FrameNotFound(f"no frame {frame_id!r} (unknown or expired)")
        return _record(raw)

    @translated
    async def frame_data(self, frame_id: str) -> bytes | None:
        data = await self.redis.get(data_key(frame_id))
        return data if isinstance(data, bytes) else None

    @translated
    async def set_classified(self, frame_id: str, classification: Classification) -> None:
        args = [classification.model_dump_json()]
        await self._classified(keys=[frame_key(frame_id)], args=args)

    @translated
    async def record_attempt(self, frame_id: str, error: str | None) -> int:
        key = frame_key(frame_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hincrby(key, "attempts", 1)
            pipe.hset(key, "last_error", error or "")
            attempts, _ = await pipe.execute()
        return int(attempts)

    @translated
    async def finish(self, entry: Entry, *, status: str, reason: str = "") -> None:
        """Delivered or dead: status change, XACK and XDEL together, so nothing is half done. A
        dead frame is counted on its camera's status (`frames_dead`, `last_dead_reason`) in the
        same script; the camera id is read first (a frame's camera never changes)."""
        fid = entry.frame_id or ""
        camera = await self.redis.hget(frame_key(fid), "camera_id") if status == "dead" else None
        counted = [camera_key(_text(camera)), status_key(_text(camera))] if camera else ["-", "-"]
        keys = [STREAM, frame_key(fid), data_key(fid), DEAD, *counted]
        await self._finish(keys=keys, args=[GROUP, entry.message_id, status, reason, _now_ms()])

    @translated
    async def redrive(self, frame_id: str) -> None:
        result = await self._redrive(keys=[STREAM, frame_key(frame_id), DEAD], args=[frame_id])
        if int(result) == -1:
            raise FrameNotFound(f"no frame {frame_id!r} (unknown or expired)")
        if int(result) == 0:
            raise NotRedrivable(f"frame {frame_id!r} is not dead")

    async def records(self, status: FrameStatus | None, limit: int) -> list[OutboxRecord]:
        """Recent frame records, newest first; the dead ones come from the dead-letter set."""
        ids = await (self.dead_ids(limit) if status == "dead" else self.recent_ids(10_000))
        found: list[OutboxRecord] = []
        for frame_id in ids:
            try:
                record = await self.load(frame_id)
            except FrameNotFound:
                continue
            if status is None or record.status == status:
                found.append(record)
            if len(found) >= limit:
                break
        return found

    async def redrive_all(self, limit: int) -> list[str]:
        redriven = []
        for frame_id in await self.dead_ids(limit):
            try:
                await self.redrive(frame_id)
            except (FrameNotFound, NotRedrivable):  # expired, or redriven concurrently
                continue
            redriven.append(frame_id)
        return redriven

    @translated
    async def dead_ids(self, limit: int) -> list[str]:
        return [_text(x) for x in await self.redis.zrevrange(DEAD, 0, limit - 1)]

    @translated
    async def recent_ids(self, limit: int) -> list[str]:
        return [_text(x) for x in await self.redis.zrevrange(RECENT, 0, limit - 1)]

    @translated
    async def read_new(self, consumer: str, *, count: int, block_ms: int) -> list[Entry]:
        try:
            reply: Any = await self.reader.xreadgroup(
                GROUP, consumer, {STREAM: ">"}, count, block_ms
            )
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            await self.ensure_group()  # Redis lost its data (restart without persistence)
            return []
        return [_entry(mid, f) for _, entries in reply or [] for mid, f in entries]

    @translated
    async def claim_idle(self, consumer: str, *, min_idle_ms: int, count: int) -> list[Entry]:
        """XAUTOCLAIM: take over entries a dead (or slow) consumer left pending."""
        reply: Any = await self.redis.xautoclaim(STREAM, GROUP, consumer, min_idle_ms, "0-0", count)
        return [_entry(mid, f) for mid, f in reply[1]]

    @translated
    async def heartbeat(self, consumer: str, entry: Entry) -> bool:
        """Reset the entry's idle time so no other consumer reclaims it while we work on it;
        False when it is no longer ours (reclaimed by another consumer, or finished)."""
        args = [GROUP, consumer, entry.message_id]
        return int(await self._heartbeat(keys=[STREAM], args=args)) == 1

    @translated
    async def stats(self) -> Stats:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xlen(STREAM)
            pipe.xrange(STREAM, count=1)
            pipe.xpending(STREAM, GROUP)
            pipe.zcard(DEAD)
            depth, first, pending, dead = await pipe.execute(raise_on_error=False)
        oldest = None
        if isinstance(first, list) and first:
            oldest = max(0.0, (_now_ms() - int(_text(first[0][0]).split("-")[0])) / 1000)
        pending_n = int(pending["pending"]) if isinstance(pending, dict) else 0
        return Stats(depth=int(depth), oldest_age_s=oldest, pending=pending_n, dead=int(dead))


def _entry(message_id: Any, fields: Any) -> Entry:
    frame_id = _text(fields[b"frame_id"]) if fields and b"frame_id" in fields else None
    return Entry(message_id=_text(message_id), frame_id=frame_id)


entry_from = _entry  # for `consumers`, which takes over dead consumers' entries in its own script
