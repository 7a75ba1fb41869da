"""The camera registry and each camera's status, in Redis under `ingest:camera:*`.

Layout:
    ingest:cameras               set of camera ids
    ingest:camera:{id}           hash: `config` (the camera as JSON, its URL without credentials)
                                 and `snapshot_auth` (its basic credentials as JSON, if any: kept
                                 apart so that nothing that reads or answers the config holds them)
    ingest:camera:{id}:status    hash: counts, consecutive errors, last error, failing since,
                                 registered at; dead frames and the last reason (outbox's FINISH)
    ingest:camera:{id}:last_sha  hash of its newest stored snapshot
    ingest:camera:{id}:poll_lock one poll per interval across replicas
    ingest:camera:{id}:accepted:{minute}  frames accepted in that minute (epoch s // 60);
                                 each expires once out of the rate window (`frame_rate_per_min`)

Snapshot URLs are checked against the egress rules (`egress`) when a camera is created, replaced,
or patched with a new snapshot_url: a refused address is a 422 `snapshot-url-refused`.
A deleted camera's archived frames go with it (`on_delete`, the archive's `forget_camera`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import AnyHttpUrl, ValidationError

from camera_ingest.egress import AddressGuard
from camera_ingest.errors import (
    CameraExists,
    CameraNotFound,
    EgressRefused,
    InvalidCamera,
    SnapshotUrlRefused,
)
from camera_ingest.schemas import (
    BasicAuth,
    Camera,
    CameraIn,
    CameraPatch,
    CameraSpec,
    CameraStatus,
)
from camera_ingest.store import Redis, translated

INDEX = "ingest:cameras"
RATE_BUCKET_S = 60
RATE_BUCKETS = 6  # the current minute and the 5 before: the rate covers 5 to 6 minutes
Outcome = Literal["accepted", "duplicate", "skipped", "failed"]


def camera_key(camera_id: str) -> str:
    return f"ingest:camera:{camera_id}"


def status_key(camera_id: str) -> str:
    """The camera's status hash; the outbox's FINISH script counts dead frames in it too."""
    return f"ingest:camera:{camera_id}:status"


def rate_keys(camera_id: str, now_ms: int) -> list[str]:
    """The camera's accepted-frame buckets of the rate window, the current minute last."""
    minute = now_ms // 1000 // RATE_BUCKET_S
    return [
        f"{camera_key(camera_id)}:accepted:{m}"
        for m in range(minute - RATE_BUCKETS + 1, minute + 1)
    ]


def frame_rate(counts: list[int], *, now_ms: int, registered_ms: int | None) -> float:
    """Frames per minute over the window the buckets cover (from the oldest bucket's start,
    or from registration if later, at least one minute)."""
    window_start_ms = (now_ms // 1000 // RATE_BUCKET_S - RATE_BUCKETS + 1) * RATE_BUCKET_S * 1000
    start_ms = max(window_start_ms, registered_ms or 0)
    span_s = max((now_ms - start_ms) / 1000, float(RATE_BUCKET_S))
    return round(sum(counts) * 60 / span_s, 2)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _decode(raw: dict[Any, Any]) -> dict[str, str]:
    return {_text(k): _text(v) for k, v in raw.items()}


def _now_ms() -> int:
    return int(time.time() * 1000)


class Cameras:
    def __init__(
        self,
        redis: Redis,
        *,
        guard: AddressGuard,
        offline_after: int,
        push_offline_after_s: float,
        on_delete: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self.redis = redis
        self.guard = guard
        self.offline_after = offline_after
        self.push_offline_after_s = push_offline_after_s
        self.on_delete = on_delete

    @translated
    async def create(self, camera: CameraIn) -> Camera:
        await self._check_egress(camera)
        if not await self.redis.sadd(INDEX, camera.id):
            raise CameraExists(f"camera {camera.id!r} exists; PUT replaces it")
        await self._save(camera)
        return await self.get(camera.id)

    @translated
    async def replace(self, camera_id: str, spec: CameraSpec) -> tuple[Camera, bool]:
        camera = _valid(camera_id, spec.model_dump())  # before anything is written
        await self._check_egress(camera)
        created = bool(await self.redis.sadd(INDEX, camera_id))
        await self._save(camera)
        return await self.get(camera_id), created

    @translated
    async def patch(self, camera_id: str, patch: CameraPatch) -> Camera:
        camera = patched(await self.config(camera_id), patch)
        if "snapshot_url" in patch.model_fields_set:
            await self._check_egress(camera)
        await self._save(camera)
        return await self.get(camera_id)

    @translated
    async def delete(self, camera_id: str) -> None:
        """404 exactly when GET says 404 (no config); a stray index entry is cleaned up too."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.srem(INDEX, camera_id)
            pipe.delete(camera_key(camera_id))
            pipe.delete(
                status_key(camera_id),
                f"{camera_key(camera_id)}:last_sha",
                f"{camera_key(camera_id)}:poll_lock",
                *rate_keys(camera_id, _now_ms()),
            )
            _, had_config, _ = await pipe.execute()
        if not had_config:
            raise CameraNotFound(f"no camera {camera_id!r}")
        if self.on_delete is not None:  # after the config is gone: no frame is archived after
            await self.on_delete(camera_id)

    @translated
    async def config(self, camera_id: str) -> CameraIn:
        """The camera's configuration, credentials included (for the poller, never answered)."""
        found = await self._load(camera_id)
        if found is None:
            raise CameraNotFound(f"no camera {camera_id!r}")
        return found

    @translated
    async def get(self, camera_id: str) -> Camera:
        config = await self.config(camera_id)
        return Camera.view(config, await self.status(config))

    @translated
    async def all(self) -> list[Camera]:
        ids = sorted(_text(m) for m in await self.redis.smembers(INDEX))
        cameras = []
        for camera_id in ids:
            try:
                cameras.append(await self.get(camera_id))
            except CameraNotFound:  # deleted between SMEMBERS and GET
                continue
        return cameras

    @translated
    async def configs(self) -> list[CameraIn]:
        ids = [_text(m) for m in await self.redis.smembers(INDEX)]
        found = [await self._load(camera_id) for camera_id in ids]
        return [config for config in found if config is not None]

    @translated
    async def status(self, config: CameraIn) -> CameraStatus:
        now_ms = _now_ms()
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(status_key(config.id))
            pipe.mget(rate_keys(config.id, now_ms))
            raw_status, buckets = await pipe.execute()
        raw = _decode(raw_status)
        status = camera_status(
            config.mode,
            raw,
            offline_after=self.offline_after,
            push_offline_after_s=self.push_offline_after_s,
            now_ms=now_ms,
        )
        counts = [int(b) for b in buckets if b is not None]
        status.frame_rate_per_min = frame_rate(
            counts, now_ms=now_ms, registered_ms=_ms(raw, "registered_ms")
        )
        return status

    @translated
    async def note(self, camera_id: str, outcome: Outcome, error: str | None = None) -> int:
        """Count a frame outcome; returns the consecutive error count after it."""
        key = status_key(camera_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            if outcome == "failed":
                pipe.hincrby(key, "failed", 1)
                pipe.hincrby(key, "consecutive_errors", 1)
                pipe.hset(key, "last_error", error or "")
                pipe.hsetnx(key, "failing_since_ms", _now_ms())
            else:
                if outcome != "duplicate":
                    pipe.hincrby(key, outcome, 1)
                if outcome == "accepted":
                    bucket = rate_keys(camera_id, _now_ms())[-1]
                    pipe.incr(bucket)
                    pipe.expire(bucket, RATE_BUCKET_S * (RATE_BUCKETS + 1))
                pipe.hset(
                    key,
                    mapping={"consecutive_errors": 0, "last_error": "", "last_frame_ms": _now_ms()},
                )
                pipe.hdel(key, "failing_since_ms")
            pipe.hget(key, "consecutive_errors")
            *_, errors = await pipe.execute()
        return int(errors or 0)

    @translated
    async def last_sha(self, camera_id: str) -> str | None:
        """The hash of the camera's newest stored frame."""
        old = await self.redis.get(f"{camera_key(camera_id)}:last_sha")
        return _text(old) if old else None

    @translated
    async def set_last_sha(self, camera_id: str, sha: str) -> None:
        """Called only once the frame is stored, so a failed store is retried next poll."""
        await self.redis.set(f"{camera_key(camera_id)}:last_sha", sha)

    @translated
    async def claim_poll(self, camera_id: str, ttl_ms: int) -> bool:
        """One poll per interval across replicas: whoever sets the lock first polls."""
        lock = f"{camera_key(camera_id)}:poll_lock"
        return bool(await self.redis.set(lock, "1", nx=True, px=ttl_ms))

    async def _check_egress(self, camera: CameraIn) -> None:
        if camera.snapshot_url is None:
            return
        try:
            await self.guard.check_url(str(camera.snapshot_url))
        except EgressRefused as exc:
            raise SnapshotUrlRefused(
                f"snapshot_url refused: {exc}; snapshots are fetched from public addresses only,"
                " unless INGEST_SNAPSHOT_ALLOW_NETWORKS allows the network"
            ) from None

    async def _load(self, camera_id: str) -> CameraIn | None:
        config, auth = await self.redis.hmget(camera_key(camera_id), ["config", "snapshot_auth"])
        if config is None:
            return None
        camera = CameraIn.model_validate_json(config)  # a URL stored with credentials: split
        if auth is not None:
            camera.snapshot_auth = BasicAuth.model_validate_json(auth)
        return camera

    async def _save(self, camera: CameraIn) -> None:
        key, auth = camera_key(camera.id), camera.snapshot_auth
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, "config", camera.model_dump_json(exclude={"snapshot_auth"}))
            if auth is None:
                pipe.hdel(key, "snapshot_auth")
            else:
                secret = {"username": auth.username, "password": auth.password.get_secret_value()}
                pipe.hset(key, "snapshot_auth", json.dumps(secret))
            pipe.hsetnx(status_key(camera.id), "registered_ms", _now_ms())
            await pipe.execute()


def _valid(camera_id: str, fields: dict[str, Any]) -> CameraIn:
    """`fields` as a camera. A python-mode dump keeps the password as a SecretStr, so the
    credentials survive the round trip."""
    try:
        return CameraIn.model_validate({**fields, "id": camera_id})
    except ValidationError as exc:
        reasons = "; ".join(e["msg"] for e in exc.errors())
        raise InvalidCamera(f"camera {camera_id!r} would be invalid: {reasons}") from None


def _host(url: AnyHttpUrl | None) -> tuple[str, str | None, int | None] | None:
    return None if url is None else (url.scheme, url.host, url.port)


def patched(current: CameraIn, patch: CameraPatch) -> CameraIn:
    """The camera after `patch`. Its credentials stay with it unless the patch names new ones
    (snapshot_auth, or in the URL) or clears the URL; a URL on another origin (scheme, host,
    port) without them is refused, so that a patch cannot send them to a new host."""
    fields = {**current.model_dump(), **patch.model_dump(exclude_unset=True)}
    if "snapshot_url" in patch.model_fields_set and "snapshot_auth" not in patch.model_fields_set:
        if patch.snapshot_url is None:
            fields["snapshot_auth"] = None
        elif current.snapshot_auth and _host(patch.snapshot_url) != _host(current.snapshot_url):
            raise InvalidCamera(
                f"camera {current.id!r}: its snapshot credentials are for another host; a "
                "snapshot_url on a new host needs snapshot_auth again (or null to drop them)"
            )
    return _valid(current.id, fields)


def camera_status(
    mode: str,
    raw: dict[str, str],
    *,
    offline_after: int,
    push_offline_after_s: float,
    now_ms: int,
) -> CameraStatus:
    """A camera's status from its status hash. Polled: online while its last poll streak has
    fewer than `offline_after` failures and it ever sent a frame. Pushed: online while its last
    frame is younger than `push_offline_after_s`."""
    errors = int(raw.get("consecutive_errors", 0))
    last_ms = _ms(raw, "last_frame_ms")
    failing_ms, registered_ms = _ms(raw, "failing_since_ms"), _ms(raw, "registered_ms")
    if mode == "poll":
        online = last_ms is not None and errors < offline_after
        since = failing_ms or last_ms or registered_ms
    else:
        silent_ms = int(push_offline_after_s * 1000)
        online = last_ms is not None and now_ms - last_ms < silent_ms
        since = last_ms + silent_ms if last_ms is not None else registered_ms
    return CameraStatus(
        state="online" if online else "offline",
        offline_since=None if online or since is None else _iso(since),
        last_frame_at=_iso(last_ms) if last_ms else None,
        consecutive_errors=errors,
        last_error=raw.get("last_error") or None,
        frames={k: int(raw.get(k, 0)) for k in ("accepted", "skipped", "failed")},
        frames_dead=int(raw.get("frames_dead", 0)),
        last_dead_reason=raw.get("last_dead_reason") or None,
        last_dead_at=_iso(dead_ms) if (dead_ms := _ms(raw, "last_dead_ms")) else None,
    )


def _ms(raw: dict[str, str], name: str) -> int | None:
    value = raw.get(name)
    return int(value) if value else None


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")
