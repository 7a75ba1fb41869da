"""A real HTTP stand-in for the upstreams the batch service reads, served by uvicorn in a thread:

- camera-ingest's frame archive (being built in parallel): `GET /v1/frames/archive` with
  camera_id, space_id, since, until, cursor and limit, and `GET /v1/frames/{frame_id}/image`,
  serving the shipped sample photos as archived frames. Each frame carries a made-up primary
  classification (always `cat`, so the dogs disagree; the last one unclassified) and, for the
  first eight, a staff `feedback_label` (the photo's true label);
- a photo host for URL jobs: `/photos/{folder}/{name}`, `/redirect?to=...`, `/status/{code}`.

Only what the archive contract promises is served; the batch service must read only what it
models (`batch.schemas.ArchivePageRead`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, HTTPException, Query, Response
from fastapi.responses import RedirectResponse

from tests.servers import free_port, wait_until

T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
TRUE_LABEL = {"cat": "cat", "dog": "dog", "none": "other"}


@dataclass(frozen=True)
class Frame:
    frame_id: str
    camera_id: str
    space_id: str
    captured_at: datetime
    truth: str
    photo: Path
    primary: str | None
    feedback: str | None

    def record(self) -> dict[str, Any]:
        classification = None
        if self.primary is not None:
            classification = {
                "label": self.primary,
                "probabilities": {"cat": 0.9, "dog": 0.05, "other": 0.05},
                "model": "efficientnet-lite0-pets",
                "version": "1",
                "prediction_id": f"p-{self.frame_id}",
            }
        doc: dict[str, Any] = {
            "frame_id": self.frame_id,
            "camera_id": self.camera_id,
            "space_id": self.space_id,
            "captured_at": self.captured_at.isoformat().replace("+00:00", "Z"),
            "content_type": "image/jpeg",
            "classification": classification,
        }
        if self.feedback is not None:
            doc["feedback_label"] = self.feedback
        return doc


def archived_frames(sample_dir: Path) -> list[Frame]:
    photos = [
        (f, p) for f in ("cat", "dog", "none") for p in sorted((sample_dir / f).glob("*.jpg"))
    ]
    frames = []
    for n, (folder, photo) in enumerate(photos):
        frames.append(
            Frame(
                frame_id=f"frame-{n:03d}",
                camera_id="cam-a" if n % 2 == 0 else "cam-b",
                space_id="space-1" if n % 2 == 0 else "space-2",
                captured_at=T0 + timedelta(minutes=n),
                truth=TRUE_LABEL[folder],
                photo=photo,
                primary=None if n == len(photos) - 1 else "cat",
                feedback=TRUE_LABEL[folder] if n < 8 else None,
            )
        )
    return frames


@dataclass
class Standin:
    frames: list[Frame]
    sample_dir: Path
    archive_queries: list[dict[str, str]] = field(default_factory=list)
    image_gets: list[str] = field(default_factory=list)
    url: str = ""

    def app(self) -> FastAPI:
        app = FastAPI()
        by_id = {f.frame_id: f for f in self.frames}

        @app.get("/v1/frames/archive")
        async def archive(
            camera_id: str | None = None,
            space_id: str | None = None,
            since: datetime | None = None,
            until: datetime | None = None,
            cursor: str | None = None,
            limit: int = Query(100, ge=1, le=1000),
        ) -> dict[str, Any]:
            query = {"camera_id": camera_id, "space_id": space_id, "cursor": cursor}
            self.archive_queries.append({k: v for k, v in query.items() if v})
            found = [
                f
                for f in self.frames
                if (camera_id is None or f.camera_id == camera_id)
                and (space_id is None or f.space_id == space_id)
                and (since is None or f.captured_at >= since)
                and (until is None or f.captured_at < until)
            ]
            start = int(cursor or 0)
            page = found[start : start + limit]
            more = start + limit < len(found)
            cursor = str(start + limit) if more else None
            return {"frames": [f.record() for f in page], "next_cursor": cursor}

        @app.get("/v1/frames/{frame_id}/image")
        async def image(frame_id: str) -> Response:
            self.image_gets.append(frame_id)
            if frame_id not in by_id:
                raise HTTPException(404, "no such frame")
            return Response(by_id[frame_id].photo.read_bytes(), media_type="image/jpeg")

        @app.get("/photos/{folder}/{name}")
        async def photo(folder: str, name: str) -> Response:
            path = self.sample_dir / folder / name
            if not path.is_file():
                raise HTTPException(404, "no such photo")
            return Response(path.read_bytes(), media_type="image/jpeg")

        @app.get("/redirect")
        async def redirect(to: str) -> RedirectResponse:
            return RedirectResponse(to, status_code=302)

        @app.get("/status/{code}")
        async def status(code: int) -> Response:
            return Response(b"told to", status_code=code)

        return app


class ThreadServer:
    """An ASGI app under a real uvicorn, in a thread, on a free loopback port (lifespan on)."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ThreadServer:
        self.thread.start()
        wait_until(lambda: self.server.started, timeout=20, what="a thread server")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)
