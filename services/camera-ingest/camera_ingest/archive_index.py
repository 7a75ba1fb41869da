"""The archive's metadata in Redis: the only module that knows the archive's key layout. The
bytes are never here; they are in a `FrameStore`, under the frame id.

Layout (all under `ingest:archive:`):
    ingest:archive:namespace        the store's namespace (its folder, or object prefix)
    ingest:archive:frame:{id}       hash: camera, space, capture time, type, bytes, classification
    ingest:archive:all              sorted set of members `{captured_ms:015d}-{frame_id}`, all of
    ingest:archive:camera:{cam}     score 0, so that their lexical order is capture order (ties
    ingest:archive:space:{space}    by frame id): one set for all, one per camera, one per space
    ingest:archive:cameras          set of camera ids that have archived frames
    ingest:archive:bytes            the sum of the archived frames' sizes

A member is a stable position in time: `ZRANGEBYLEX (member +` is "everything after it", however
many frames were added or evicted since, so the listing's cursor is the last member it answered.
Adding and evicting are one script each (`archive_scripts`), so the sets, the byte count and the
hash never disagree; an evicted camera's newest frame is refused inside the same script.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

from camera_ingest import archive_scripts as lua
from camera_ingest.cameras import camera_key
from camera_ingest.schemas import Classification
from camera_ingest.store import Redis, translated

ALL = "ingest:archive:all"
CAMERAS = "ingest:archive:cameras"
BYTES = "ingest:archive:bytes"
NAMESPACE = "ingest:archive:namespace"
MS_DIGITS = 15  # milliseconds since 1970 up to the year 33658
GONE, KEPT_LATEST = -1, -2  # EVICT's answers besides the bytes it freed
Outcome = Literal["new", "again", "camera-gone"]


def frame_key(frame_id: str) -> str:
    return f"ingest:archive:frame:{frame_id}"


def camera_set(camera_id: str) -> str:
    return f"ingest:archive:camera:{camera_id}"


def space_set(space_id: str) -> str:
    return f"ingest:archive:space:{space_id}"


def position(ms: int) -> str:
    """The lexical position of a time: every member captured at `ms` sorts after it."""
    return f"{max(0, ms):0{MS_DIGITS}d}"


def member(captured_ms: int, frame_id: str) -> str:
    return f"{position(captured_ms)}-{frame_id}"


def frame_of(member_: str) -> str:
    return member_[MS_DIGITS + 1 :]


@dataclass(frozen=True)
class Added:
    """ADD's answer: what happened, and what retention checks next."""

    outcome: Outcome
    camera_count: int
    total_bytes: int
    oldest_ms: int | None


@dataclass(frozen=True)
class ArchivedFrame:
    frame_id: str
    camera_id: str
    space_id: str
    captured_at: str
    captured_ms: int
    content_type: str
    size: int
    classification: Classification | None

    @property
    def member(self) -> str:
        return member(self.captured_ms, self.frame_id)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _frame(raw: dict[Any, Any]) -> ArchivedFrame | None:
    if not raw:
        return None
    f = {_text(k): _text(v) for k, v in raw.items()}
    classification = f.get("classification")
    return ArchivedFrame(
        frame_id=f["frame_id"],
        camera_id=f["camera_id"],
        space_id=f["space_id"],
        captured_at=f["captured_at"],
        captured_ms=int(f["captured_ms"]),
        content_type=f["content_type"],
        size=int(f["bytes"]),
        classification=Classification.model_validate_json(classification)
        if classification
        else None,
    )


class ArchiveIndex:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._add = redis.register_script(lua.ADD)
        self._evict = redis.register_script(lua.EVICT)

    @translated
    async def namespace(self) -> str:
        """This keyspace's namespace in the store: made once, kept with the metadata."""
        await self.redis.set(NAMESPACE, uuid.uuid4().hex[:12], nx=True)
        return _text(await self.redis.get(NAMESPACE))

    @translated
    async def add(self, frame: ArchivedFrame) -> Added:
        fields = {
            "frame_id": frame.frame_id,
            "camera_id": frame.camera_id,
            "space_id": frame.space_id,
            "captured_at": frame.captured_at,
            "captured_ms": str(frame.captured_ms),
            "content_type": frame.content_type,
            "bytes": str(frame.size),
            "member": frame.member,
            "classification": frame.classification.model_dump_json()
            if frame.classification
            else "",
        }
        keys = [
            frame_key(frame.frame_id),
            ALL,
            camera_set(frame.camera_id),
            space_set(frame.space_id),
            CAMERAS,
            BYTES,
            camera_key(frame.camera_id),
        ]
        pairs = [item for kv in fields.items() for item in kv]
        args: list[str | int] = [frame.member, frame.size, frame.camera_id, *pairs]
        outcome, count, size, oldest = await self._add(keys=keys, args=args)
        return Added(
            outcome=cast(Outcome, _text(outcome)),  # the script answers one of exactly these
            camera_count=int(count),
            total_bytes=int(_text(size)),
            oldest_ms=int(_text(oldest)[:MS_DIGITS]) if oldest else None,
        )

    @translated
    async def evict(self, frame_id: str, *, keep_latest: bool) -> int:
        """The bytes freed, GONE, or KEPT_LATEST. A frame's camera and space never change, so
        they are read before the script that needs their keys."""
        camera, space, found = await self.redis.hmget(
            frame_key(frame_id), ["camera_id", "space_id", "member"]
        )
        if camera is None or space is None or found is None:
            return GONE
        keys = [frame_key(frame_id), ALL, camera_set(_text(camera)), space_set(_text(space))]
        args: list[str | int] = [_text(found), _text(camera), int(keep_latest)]
        return int(await self._evict(keys=[*keys, CAMERAS, BYTES], args=args))

    @translated
    async def get(self, frame_id: str) -> ArchivedFrame | None:
        return _frame(await self.redis.hgetall(frame_key(frame_id)))

    @translated
    async def latest(self, camera_id: str) -> tuple[bool, ArchivedFrame | None]:
        """Whether the camera exists, and its newest archived frame."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.exists(camera_key(camera_id))
            pipe.zrange(camera_set(camera_id), -1, -1)
            exists, newest = await pipe.execute()
        frame = await self.get(frame_of(_text(newest[0]))) if newest else None
        return bool(exists), frame

    @translated
    async def page(
        self, *, camera_id: str | None, space_id: str | None, lower: str, upper: str, limit: int
    ) -> tuple[list[ArchivedFrame], str | None]:
        """Frames in (lower, upper) in capture order, at most `limit`, and the cursor of the next
        page (None when there is none). Both camera and space: the camera's set, filtered."""
        key = camera_set(camera_id) if camera_id else space_set(space_id) if space_id else ALL
        only_space = space_id if camera_id else None
        found: list[ArchivedFrame] = []
        chunk = min(limit + 1, 500)
        while len(found) <= limit:
            members = [_text(m) for m in await self.redis.zrangebylex(key, lower, upper, 0, chunk)]
            for frame in await self._load([frame_of(m) for m in members]):
                if frame is not None and only_space in (None, frame.space_id):
                    found.append(frame)
                    if len(found) > limit:
                        break
            if len(members) < chunk:
                break
            lower = f"({members[-1]}"
        if len(found) > limit:
            return found[:limit], found[limit - 1].member
        return found, None

    @translated
    async def oldest(self, *, offset: int, count: int, before_ms: int | None = None) -> list[str]:
        """Frame ids of all cameras, oldest first (captured before `before_ms` if given)."""
        upper = f"({position(before_ms)}" if before_ms is not None else "+"
        found = await self.redis.zrangebylex(ALL, "-", upper, offset, count)
        return [frame_of(_text(m)) for m in found]

    @translated
    async def camera_frames(self, camera_id: str, count: int | None = None) -> list[str]:
        """The camera's frame ids, oldest first (the `count` oldest if given)."""
        end = -1 if count is None else count - 1
        return [frame_of(_text(m)) for m in await self.redis.zrange(camera_set(camera_id), 0, end)]

    @translated
    async def camera_count(self, camera_id: str) -> int:
        return int(await self.redis.zcard(camera_set(camera_id)))

    @translated
    async def cameras(self) -> list[str]:
        """The cameras that have archived frames."""
        return sorted(_text(c) for c in await self.redis.smembers(CAMERAS))

    @translated
    async def registered(self, camera_ids: Sequence[str]) -> list[bool]:
        """Whether each camera is still registered (its config exists)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for camera_id in camera_ids:
                pipe.exists(camera_key(camera_id))
            return [bool(x) for x in await pipe.execute()]

    @translated
    async def known(self, frame_ids: Sequence[str]) -> list[bool]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for frame_id in frame_ids:
                pipe.exists(frame_key(frame_id))
            return [bool(x) for x in await pipe.execute()]

    @translated
    async def totals(self) -> tuple[int, int]:
        """(bytes, frames) archived."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(BYTES)
            pipe.zcard(ALL)
            size, count = await pipe.execute()
        return int(size or 0), int(count)

    async def _load(self, frame_ids: Sequence[str]) -> list[ArchivedFrame | None]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for frame_id in frame_ids:
                pipe.hgetall(frame_key(frame_id))
            return [_frame(raw) for raw in await pipe.execute()]
