"""Working one chunk: the items without a result yet, in classifier-sized requests, each
request's outcomes stored before the next is sent.

Per chunk: the job is marked running (once); the items that already have a result are skipped
(a chunk taken over from a dead worker redoes only what is missing); the rest go in groups of
`max_request_items` (the classifier's own per-request limit, CLASSIFIER_MAX_BATCH_ITEMS), also
split so no request body passes `max_request_bytes`. For each group: refresh our claim on the
chunk (stop if another consumer has it), load the bytes (the item's file; else fetch the URL or
the archived frame, and keep it on disk), classify, and store the outcomes (`Jobs.record`:
idempotent per item). The chunk is acked once every item has a result, or its job ended.

Retries: a classifier or camera-ingest that fails for now (connection, timeout, 429/502/503/504)
is retried with backoff for as long as the job is active, refreshing the claim each time; a 500
`max_server_errors` times in a row fails that request's items (`classifier-error`); a 413 splits
the request in two; 404 means the job's model is gone and fails the job. A worker told to stop
leaves its chunk pending, for another to take over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from batch.chunks import Chunk, ChunkQueue
from batch.clients import ClassifierClient, IngestClient
from batch.errors import (
    ChunkLost,
    ItemFailed,
    JobNotFound,
    ModelGone,
    RequestRefused,
    RequestTooLarge,
    ServerErrorAnswer,
    Transient,
)
from batch.fetch import Fetcher
from batch.images import check_image
from batch.items import Item, Outcome
from batch.jobs import JobRecord, Jobs
from batch.metrics import Metrics
from batch.schemas import ACTIVE_STATES, BatchRead
from batch.workspace import Workspace

log = logging.getLogger(__name__)
T = TypeVar("T")
Loaded = tuple[Item, bytes]


class _Stopped(Exception):
    """This worker is stopping: leave the chunk pending."""


class _JobEnded(Exception):
    """The job was cancelled, failed or expired while we waited."""


@dataclass(frozen=True)
class Policy:
    max_request_items: int
    max_request_bytes: int
    fetch_concurrency: int
    retry_base_s: float
    retry_max_s: float
    max_server_errors: int

    def delay(self, attempt: int) -> float:
        ceiling = min(self.retry_max_s, self.retry_base_s * 2 ** min(attempt, 30))
        return random.uniform(self.retry_base_s, max(self.retry_base_s, ceiling))


def groups(items: Sequence[Loaded], *, max_items: int, max_bytes: int) -> list[list[Loaded]]:
    """Consecutive groups of at most `max_items` images and `max_bytes` bytes (at least one)."""
    out: list[list[Loaded]] = []
    size = 0
    for loaded in items:
        if not out or len(out[-1]) >= max_items or size + len(loaded[1]) > max_bytes:
            out.append([])
            size = 0
        out[-1].append(loaded)
        size += len(loaded[1])
    return out


def outcomes_of(sent: Sequence[Loaded], answer: BatchRead) -> list[Outcome]:
    """The classifier's per-image results (in the order sent) as outcomes."""
    outcomes = []
    for (item, _), result in zip(sent, answer.results, strict=True):
        if result.error is not None:
            reason = result.error.type.rstrip("/").rsplit("/", 1)[-1]
            outcomes.append(item.failed(reason, result.error.detail))
        else:
            outcomes.append(item.classified(result.label or "", result.probabilities or {}))
    return outcomes


class ChunkProcessor:
    def __init__(
        self,
        *,
        jobs: Jobs,
        queue: ChunkQueue,
        workspace: Workspace,
        classifier: ClassifierClient,
        ingest: IngestClient,
        fetcher: Fetcher,
        metrics: Metrics,
        policy: Policy,
        consumer: str,
        stopping: asyncio.Event,
    ) -> None:
        self.jobs = jobs
        self.queue = queue
        self.workspace = workspace
        self.classifier = classifier
        self.ingest = ingest
        self.fetcher = fetcher
        self.metrics = metrics
        self.policy = policy
        self.consumer = consumer
        self.stopping = stopping

    async def handle(self, chunk: Chunk) -> None:
        try:
            outcome = await self._work(chunk)
        except ChunkLost:
            outcome = "lost"
            log.warning("chunk taken over by another consumer", extra={"job_id": chunk.job_id})
        except _Stopped:
            outcome = "left-pending"
        else:
            await self.queue.ack(chunk)
        self.metrics.chunks.labels(outcome).inc()

    async def _work(self, chunk: Chunk) -> str:
        if not chunk.job_id or await self.jobs.start(chunk.job_id) not in ACTIVE_STATES:
            return "skipped"
        try:
            job = await self.jobs.load(chunk.job_id)
        except JobNotFound:  # expired in between
            return "skipped"
        have = await self.jobs.recorded(job.job_id, [item.index for item in chunk.items])
        pending = [item for item in chunk.items if item.index not in have]
        size = self.policy.max_request_items
        try:
            for start in range(0, len(pending), size):
                await self._claim(chunk, job)
                outcomes = await self._outcomes(chunk, job, pending[start : start + size])
                new, state = await self.jobs.record(job.job_id, outcomes)
                self.metrics.items.labels("recorded").inc(new)
                self.metrics.items.labels("already-recorded").inc(len(outcomes) - new)
                if state == "done":
                    await asyncio.to_thread(self.workspace.remove, job.job_id)
                if state not in ACTIVE_STATES:
                    break
        except _JobEnded:
            pass
        except ModelGone as exc:
            await self.jobs.end(job.job_id, "failed", str(exc))
            log.warning("job failed: %s", exc, extra={"job_id": job.job_id})
        return "done"

    async def _claim(self, chunk: Chunk, job: JobRecord) -> None:
        """Still ours, still wanted: ChunkLost, _Stopped or _JobEnded otherwise."""
        if self.stopping.is_set():
            raise _Stopped
        if not await self.queue.heartbeat(self.consumer, chunk):
            raise ChunkLost(f"chunk {chunk.message_id} is no longer ours")
        if await self.jobs.state(job.job_id) not in ACTIVE_STATES:
            raise _JobEnded

    async def _retrying(self, chunk: Chunk, job: JobRecord, call: Callable[[], Awaitable[T]]) -> T:
        attempt = 0
        while True:
            try:
                return await call()
            except ServerErrorAnswer:
                raise
            except Transient as exc:
                attempt += 1
                log.info("retrying: %s", exc, extra={"job_id": job.job_id, "attempt": attempt})
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), self.policy.delay(attempt))
                await self._claim(chunk, job)

    async def _outcomes(self, chunk: Chunk, job: JobRecord, items: list[Item]) -> list[Outcome]:
        gate = asyncio.Semaphore(self.policy.fetch_concurrency)

        async def load(item: Item) -> Outcome | Loaded:
            if item.reason is not None:
                return item.failed(item.reason, item.detail or "")
            async with gate:
                try:
                    return item, await self._bytes(chunk, job, item)
                except ItemFailed as failed:
                    return item.failed(failed.reason, failed.detail)

        # Every load ends (each is bounded) before a stop, a lost claim or an ended job is raised.
        loaded = await asyncio.gather(*(load(item) for item in items), return_exceptions=True)
        for failure in loaded:
            if isinstance(failure, BaseException):
                raise failure
        outcomes = [x for x in loaded if isinstance(x, Outcome)]
        ready = [x for x in loaded if isinstance(x, tuple)]
        p = self.policy
        for group in groups(ready, max_items=p.max_request_items, max_bytes=p.max_request_bytes):
            outcomes += await self._classify(chunk, job, group)
        return outcomes

    async def _bytes(self, chunk: Chunk, job: JobRecord, item: Item) -> bytes:
        """The item's image: its file, else fetched now (and kept as its file)."""
        data = await asyncio.to_thread(self.workspace.read_item, job.job_id, item.index)
        if data is not None:
            return data
        if job.kind == "archive":
            raise ItemFailed("item-missing", "the extracted image is no longer on disk")
        if job.kind == "urls":
            data = await self.fetcher.fetch(item.name)
        else:
            data = await self._retrying(chunk, job, lambda: self.ingest.frame_image(item.name))
            check_image(data[:512])
        await asyncio.to_thread(self.workspace.write_item, job.job_id, item.index, data)
        return data

    async def _classify(self, chunk: Chunk, job: JobRecord, sent: list[Loaded]) -> list[Outcome]:
        images = [(item.index, data) for item, data in sent]
        last: ServerErrorAnswer | None = None
        for errors in range(1, self.policy.max_server_errors + 1):
            try:
                call = lambda: self.classifier.predict_batch(images, job.target)  # noqa: E731
                answer = await self._retrying(chunk, job, call)
                self.metrics.requests.labels("ok").inc()
                return outcomes_of(sent, answer)
            except RequestTooLarge as exc:
                self.metrics.requests.labels("too-large").inc()
                if len(sent) == 1:
                    return [sent[0][0].failed("too-large", str(exc))]
                half = len(sent) // 2
                first = await self._classify(chunk, job, sent[:half])
                return first + await self._classify(chunk, job, sent[half:])
            except RequestRefused as exc:
                self.metrics.requests.labels("refused").inc()
                return [item.failed("classifier-refused", str(exc)) for item, _ in sent]
            except ServerErrorAnswer as exc:
                self.metrics.requests.labels("server-error").inc()
                last = exc
                await self._claim(chunk, job)
                log.warning("classifier error %d: %s", errors, exc, extra={"job_id": job.job_id})
        return [item.failed("classifier-error", str(last)) for item, _ in sent]
