"""The data dir (`BATCH_DATA_DIR`): where a job's bytes are kept while it runs. Never in Redis.

    {data_dir}/jobs/{job_id}/upload.part         an uploaded archive, while it is read
    {data_dir}/jobs/{job_id}/items/{k}/{index}   one image per item, k = index // 1000

An archive's images are written here when the job is created; a fetched URL or archived frame is
written by the worker that fetches it, so a chunk redone after a crash does not fetch it again.
Files are written under a temporary name and renamed, so a reader never sees half an image.
Every process of a deployment (API and workers, on any host) must see the same folder: a shared
volume, or an object store behind these few functions at scale (docs/batch.md).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import uuid
from pathlib import Path


class Workspace:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.jobs = root / "jobs"

    def job_dir(self, job_id: str) -> Path:
        return self.jobs / job_id

    def upload_path(self, job_id: str) -> Path:
        return self.job_dir(job_id) / "upload.part"

    def item_path(self, job_id: str, index: int) -> Path:
        return self.job_dir(job_id) / "items" / f"{index // 1000:04d}" / str(index)

    def prepare(self, job_id: str) -> Path:
        path = self.job_dir(job_id)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def write_item(self, job_id: str, index: int, data: bytes) -> None:
        """Atomically: under a temporary name, then renamed."""
        path = self.item_path(job_id, index)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def read_item(self, job_id: str, index: int) -> bytes | None:
        try:
            return self.item_path(job_id, index).read_bytes()
        except FileNotFoundError:
            return None

    def remove(self, job_id: str) -> None:
        shutil.rmtree(self.job_dir(job_id), ignore_errors=True)

    def job_ids(self) -> list[str]:
        try:
            return [p.name for p in self.jobs.iterdir() if p.is_dir()]
        except FileNotFoundError:
            return []

    def idle_s(self, job_id: str) -> float:
        """Seconds since the folder (or its upload) last changed."""
        newest = 0.0
        for path in (self.job_dir(job_id), self.upload_path(job_id)):
            with contextlib.suppress(FileNotFoundError):
                newest = max(newest, path.stat().st_mtime)
        return time.time() - newest
