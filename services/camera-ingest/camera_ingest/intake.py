"""Taking a frame in, from a push or a poll: check it once, persist it in the outbox, count it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

from camera_ingest.cameras import Cameras
from camera_ingest.errors import CameraDisabled, InvalidFrame
from camera_ingest.frames import Frame, new_frame_id, read_frame
from camera_ingest.metrics import Metrics
from camera_ingest.outbox import Accepted, Origin, Outbox
from camera_ingest.schemas import CameraIn
from shelter_kit.context import traceparent_var


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Intake:
    def __init__(
        self, *, cameras: Cameras, outbox: Outbox, metrics: Metrics, max_frame_bytes: int
    ) -> None:
        self.cameras = cameras
        self.outbox = outbox
        self.metrics = metrics
        self.max_frame_bytes = max_frame_bytes

    async def push(
        self,
        camera_id: str,
        body: AsyncIterator[bytes],
        *,
        content_type: str | None,
        content_length: str | None,
        idempotency_key: str | None,
        request_id: str,
    ) -> Accepted:
        """A pushed frame. The body is read only once the camera is known to take frames."""
        camera = await self.cameras.config(camera_id)
        if not camera.enabled:
            raise CameraDisabled(f"camera {camera_id!r} is disabled")
        try:
            frame = await read_frame(
                body,
                content_type=content_type,
                content_length=content_length,
                max_bytes=self.max_frame_bytes,
            )
        except InvalidFrame as exc:
            await self.reject(camera_id, exc)
            raise
        return await self.store(
            camera, frame, source="push", request_id=request_id, idempotency_key=idempotency_key
        )

    async def store(
        self,
        camera: CameraIn,
        frame: Frame,
        *,
        source: str,
        request_id: str,
        idempotency_key: str | None = None,
        dedupe: bool = True,
    ) -> Accepted:
        origin = Origin(
            camera_id=camera.id,
            space_id=camera.space_id,
            source=source,
            captured_at=utc_now(),
            request_id=request_id,
            traceparent=traceparent_var.get(),  # the worker passes it on with the frame
        )
        accepted = await self.outbox.enqueue(
            frame, origin, frame_id=new_frame_id(), idempotency_key=idempotency_key, dedupe=dedupe
        )
        if accepted.duplicate:
            self.metrics.frames_duplicate.inc()
            await self.cameras.note(camera.id, "duplicate")
        else:
            self.metrics.frames_accepted.labels(source).inc()
            await self.cameras.note(camera.id, "accepted")
        return accepted

    async def reject(self, camera_id: str, exc: Exception) -> None:
        self.metrics.frames_rejected.labels(type(exc).__name__).inc()
        await self.cameras.note(camera_id, "failed", str(exc))
