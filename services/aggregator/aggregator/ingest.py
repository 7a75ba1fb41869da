"""The client of camera-ingest's `GET /v1/cameras`: the camera statuses the health alerts read.

Any failure (no answer within the timeout, a non-2xx status, a body that is not the camera list)
is `IngestUnavailable`: the caller logs it and changes no alert.
"""

from __future__ import annotations

import httpx
from pydantic import ValidationError

from aggregator.camera_health import CameraHealth
from aggregator.errors import IngestUnavailable
from aggregator.schemas import IngestCamera, IngestCameraList


class IngestClient:
    def __init__(self, *, base_url: str, timeout_s: float) -> None:
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout_s)

    async def close(self) -> None:
        await self._http.aclose()

    async def cameras(self) -> list[CameraHealth]:
        try:
            response = await self._http.get("/v1/cameras")
            response.raise_for_status()
            listed = IngestCameraList.model_validate_json(response.content)
        except (httpx.HTTPError, ValidationError) as exc:
            reason = f"camera-ingest camera list: {type(exc).__name__}: {exc}"
            raise IngestUnavailable(reason) from exc
        return [_health(cam) for cam in listed.cameras]


def _health(cam: IngestCamera) -> CameraHealth:
    status = cam.status
    if status is None:  # never polled or pushed yet: nothing to say about it
        return CameraHealth(cam.id, cam.space_id)
    return CameraHealth(
        id=cam.id,
        space_id=cam.space_id,
        online=status.state == "online",
        offline_since=status.offline_since,
        last_error=status.last_error,
        frames_dead=status.frames_dead,
        last_dead_reason=status.last_dead_reason,
        last_dead_at=status.last_dead_at,
    )
