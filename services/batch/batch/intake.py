"""Taking a job in: pin the target model version (before a byte of an upload is read), gather
the items from the source, and create the job with all its chunks queued. What comes back is the
job's record: the API answers it as 202 with its Location."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

from batch.clients import ClassifierClient
from batch.errors import UnsupportedMediaType
from batch.jobs import JobRecord, Jobs, NewJob, TargetModel
from batch.metrics import Metrics
from batch.schemas import JobIn, UrlSource
from batch.sources import Source, Sources

JSON = "application/json"
ARCHIVE_TYPES = frozenset(
    {
        "application/zip",
        "application/x-zip-compressed",
        "application/x-tar",
        "application/gzip",
        "application/x-gzip",
        "application/x-gtar",
        "application/x-compressed-tar",
        "application/x-bzip2",
        "application/x-xz",
        "application/octet-stream",
    }
)


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def body_kind(content_type: str | None) -> str:
    """`json` or `archive`; UnsupportedMediaType for anything else, before the body is read."""
    kind = media_type(content_type)
    if kind == JSON:
        return "json"
    if kind in ARCHIVE_TYPES:
        return "archive"
    accepted = ", ".join(sorted({JSON, *ARCHIVE_TYPES}))
    raise UnsupportedMediaType(f"Content-Type {kind or '(none)'!r} is not one of: {accepted}")


class Intake:
    def __init__(
        self, *, jobs: Jobs, sources: Sources, classifier: ClassifierClient, metrics: Metrics
    ) -> None:
        self.jobs = jobs
        self.sources = sources
        self.classifier = classifier
        self.metrics = metrics

    async def upload(
        self, body: AsyncIterator[bytes], *, content_length: str | None, target: str | None
    ) -> JobRecord:
        pinned = await self.classifier.resolve(target)
        job_id = uuid.uuid4().hex
        found = await self.sources.upload(job_id, body, content_length=content_length)
        return await self._create(job_id, pinned, found)

    async def submit(self, job_in: JobIn) -> JobRecord:
        pinned = await self.classifier.resolve(job_in.target)
        source = job_in.source
        if isinstance(source, UrlSource):
            found = self.sources.urls(source)
        else:
            found = await self.sources.frames(source)
        return await self._create(uuid.uuid4().hex, pinned, found)

    async def _create(self, job_id: str, target: TargetModel, found: Source) -> JobRecord:
        items, source = found
        kind = str(source["kind"])
        try:
            await self.jobs.create(
                NewJob(job_id=job_id, kind=kind, source=source, target=target, items=items)
            )
        except BaseException:  # no job: no files either (an upload's images are written)
            self.sources.workspace.remove(job_id)
            raise
        self.metrics.jobs.labels(kind).inc()
        return await self.jobs.load(job_id)
