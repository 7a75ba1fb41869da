"""A job's items from its source: an uploaded archive, a list of URLs, or camera-ingest's frame
archive. Everything is known (and checked) before the job exists: a refused archive or a bad
query is the POST's answer, never a job that fails later.

- Archive: the body streams to `upload.part` on disk (at most `max_upload_bytes`), then
  `archives.expand` reads it on a thread, writing each image as its item's file; the upload is
  deleted after, and the whole folder when the archive is refused.
- URLs: one item per URL; nothing is fetched yet (the workers fetch, by the egress rules).
- Frames: the archive's pages, one query per camera and per space (or one for all), each frame
  once, with what the primary said at the time and the staff's label where there is one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from batch import archives
from batch.clients import IngestClient
from batch.errors import InvalidSource, UploadTooLarge
from batch.items import Item
from batch.schemas import FramesSource, UrlSource
from batch.workspace import Workspace
from shelter_kit.bodies import bounded
from shelter_kit.errors import BodyTooLarge

Source = tuple[list[Item], dict[str, Any]]  # the items, and the job's `source` summary


class Sources:
    def __init__(
        self,
        *,
        workspace: Workspace,
        limits: archives.Limits,
        ingest: IngestClient,
        max_upload_bytes: int,
        page_size: int,
    ) -> None:
        self.workspace = workspace
        self.limits = limits
        self.ingest = ingest
        self.max_upload_bytes = max_upload_bytes
        self.page_size = page_size

    async def upload(
        self, job_id: str, body: AsyncIterator[bytes], *, content_length: str | None
    ) -> Source:
        self.workspace.prepare(job_id)
        path = self.workspace.upload_path(job_id)
        try:
            size = await self._save(body, path, content_length)
            items = await asyncio.to_thread(
                archives.expand,
                path,
                limits=self.limits,
                sink=lambda index, data: self.workspace.write_item(job_id, index, data),
            )
            if not items:
                raise InvalidSource("the archive holds no files")
        except BaseException:
            self.workspace.remove(job_id)
            raise
        finally:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        failed = sum(item.reason is not None for item in items)
        return items, {"kind": "archive", "bytes": size, "files": len(items), "refused": failed}

    async def _save(self, body: AsyncIterator[bytes], path: Any, content_length: str | None) -> int:
        size = 0
        out = await asyncio.to_thread(path.open, "wb")
        try:
            limit = self.max_upload_bytes
            async for chunk in bounded(body, limit=limit, content_length=content_length):
                size += len(chunk)
                await asyncio.to_thread(out.write, chunk)
        except BodyTooLarge as exc:
            detail = f"upload: {exc} (BATCH_MAX_UPLOAD_BYTES)"
            raise UploadTooLarge(detail, limit=exc.limit) from exc
        finally:
            out.close()
        return size

    def urls(self, source: UrlSource) -> Source:
        if len(source.urls) > self.limits.max_items:
            raise InvalidSource(f"{len(source.urls)} URLs: at most {self.limits.max_items}")
        items = [Item(index, url) for index, url in enumerate(source.urls)]
        return items, {"kind": "urls", "urls": len(items)}

    async def frames(self, source: FramesSource) -> Source:
        queries: list[dict[str, str]] = [{"camera_id": c} for c in source.camera_ids]
        queries += [{"space_id": s} for s in source.space_ids]
        bounds = (("since", source.since), ("until", source.until))
        window = {name: at.isoformat() for name, at in bounds if at is not None}
        items: dict[str, Item] = {}
        for query in queries or [{}]:
            async for frame in self._pages({**query, **window}):
                if frame.frame_id in items:
                    continue
                if len(items) >= self.limits.max_items:
                    raise InvalidSource(
                        f"more than {self.limits.max_items} frames match: narrow the time range"
                    )
                primary = frame.classification.label if frame.classification else None
                items[frame.frame_id] = Item(
                    len(items), frame.frame_id, primary=primary, feedback=frame.feedback_label
                )
        if not items:
            raise InvalidSource("no archived frame matches the cameras, spaces and time range")
        summary = source.model_dump(mode="json", exclude={"kind"})
        return list(items.values()), {"kind": "frames", "frames": len(items), **summary}

    async def _pages(self, query: dict[str, str]) -> AsyncIterator[Any]:
        cursor: str | None = None
        while True:
            params = {**query, "limit": str(self.page_size)}
            if cursor:
                params["cursor"] = cursor
            page = await self.ingest.archive_page(params)
            for frame in page.frames:
                yield frame
            if not page.next_cursor or not page.frames:
                return
            cursor = page.next_cursor
