"""The camera registry and each camera's status, in Redis under `ingest:camera:*`."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import ValidationError

from camera_ingest.errors import CameraExists, CameraNotFound, InvalidCamera
from camera_ingest.schemas import Camera, CameraIn, CameraPatch, CameraSpec, CameraStatus
from camera_ingest.store import Redis, translated

INDEX = "ingest:cameras"
Outcome = Literal["accepted", "duplicate", "skipped", "failed"]


def _key(camera_id: str) -> str:
    return f"ingest:camera:{camera_id}"


def _status_key(camera_id: str) -> str:
    return f"ingest:camera:{camera_id}:status"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _decode(raw: dict[Any, Any]) -> dict[str, str]:
    return {_text(k): _text(v) for k, v in raw.items()}


class Cameras:
    def __init__(self, redis: Redis, *, offline_after: int, push_offline_after_s: float) -> None:
        self.redis = redis
        self.offline_after = offline_after
        self.push_offline_after_s = push_offline_after_s

    @translated
    async def create(self, camera: CameraIn) -> Camera:
        if not await self.redis.sadd(INDEX, camera.id):
            raise CameraExists(f"camera {camera.id!r} exists; PUT replaces it")
        await self._save(camera)
        return await self.get(camera.id)

    @translated
    async def replace(self, camera_id: str, spec: CameraSpec) -> tuple[Camera, bool]:
        camera = _valid(camera_id, spec.model_dump())  # before anything is written
        created = bool(await self.redis.sadd(INDEX, camera_id))
        await self._save(camera)
        return await self.get(camera_id), created

    @translated
    async def patch(self, camera_id: str, patch: CameraPatch) -> Camera:
        current = await self.config(camera_id)
        merged = {**current.model_dump(), **patch.model_dump(exclude_unset=True)}
        await self._save(_valid(camera_id, merged))
        return await self.get(camera_id)

    @translated
    async def delete(self, camera_id: str) -> None:
        """404 exactly when GET says 404 (no config); a stray index entry is cleaned up too."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.srem(INDEX, camera_id)
            pipe.delete(_key(camera_id))
            pipe.delete(
                _status_key(camera_id),
                f"{_key(camera_id)}:last_sha",
                f"{_key(camera_id)}:poll_lock",
            )
            _, had_config, _ = await pipe.execute()
        if not had_config:
            raise CameraNotFound(f"no camera {camera_id!r}")

    @translated
    async def config(self, camera_id: str) -> CameraIn:
        raw = await self.redis.hget(_key(camera_id), "config")
        if raw is None:
            raise CameraNotFound(f"no camera {camera_id!r}")
        return CameraIn.model_validate_json(raw)

    @translated
    async def get(self, camera_id: str) -> Camera:
        config = await self.config(camera_id)
        return Camera(**config.model_dump(), status=await self.status(config))

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
        found = []
        for camera_id in ids:
            raw = await self.redis.hget(_key(camera_id), "config")
            if raw is not None:
                found.append(CameraIn.model_validate_json(raw))
        return found

    @translated
    async def status(self, config: CameraIn) -> CameraStatus:
        raw = _decode(await self.redis.hgetall(_status_key(config.id)))
        errors = int(raw.get("consecutive_errors", 0))
        last_ms = int(raw["last_frame_ms"]) if "last_frame_ms" in raw else None
        if config.mode == "poll":
            online = last_ms is not None and errors < self.offline_after
        else:
            age = time.time() - (last_ms or 0) / 1000
            online = last_ms is not None and age < self.push_offline_after_s
        return CameraStatus(
            state="online" if online else "offline",
            last_frame_at=_iso(last_ms) if last_ms else None,
            consecutive_errors=errors,
            last_error=raw.get("last_error") or None,
            frames={k: int(raw.get(k, 0)) for k in ("accepted", "skipped", "failed")},
        )

    @translated
    async def note(self, camera_id: str, outcome: Outcome, error: str | None = None) -> int:
        """Count a frame outcome; returns the consecutive error count after it."""
        key = _status_key(camera_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            if outcome == "failed":
                pipe.hincrby(key, "failed", 1)
                pipe.hincrby(key, "consecutive_errors", 1)
                pipe.hset(key, "last_error", error or "")
            else:
                if outcome != "duplicate":
                    pipe.hincrby(key, outcome, 1)
                pipe.hset(
                    key,
                    mapping={
                        "consecutive_errors": 0,
                        "last_error": "",
                        "last_frame_ms": int(time.time() * 1000),
                    },
                )
            pipe.hget(key, "consecutive_errors")
            *_, errors = await pipe.execute()
        return int(errors or 0)

    @translated
    async def last_sha(self, camera_id: str) -> str | None:
        """The hash of the camera's newest stored frame."""
        old = await self.redis.get(f"{_key(camera_id)}:last_sha")
        return _text(old) if old else None

    @translated
    async def set_last_sha(self, camera_id: str, sha: str) -> None:
        """Called only once the frame is stored, so a failed store is retried next poll."""
        await self.redis.set(f"{_key(camera_id)}:last_sha", sha)

    @translated
    async def claim_poll(self, camera_id: str, ttl_ms: int) -> bool:
        """One poll per interval across replicas: whoever sets the lock first polls."""
        return bool(await self.redis.set(f"{_key(camera_id)}:poll_lock", "1", nx=True, px=ttl_ms))

    async def _save(self, camera: CameraIn) -> None:
        await self.redis.hset(_key(camera.id), "config", camera.model_dump_json())


def _valid(camera_id: str, fields: dict[str, Any]) -> CameraIn:
    try:
        return CameraIn.model_validate({**fields, "id": camera_id})
    except ValidationError as exc:
        reasons = "; ".join(e["msg"] for e in exc.errors())
        raise InvalidCamera(f"camera {camera_id!r} would be invalid: {reasons}") from exc


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")
