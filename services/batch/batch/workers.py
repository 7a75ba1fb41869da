"""The worker pool of one process: N consumers of the chunk queue, one chunk each at a time, plus
a reclaimer that takes over chunks a dead consumer left pending (XAUTOCLAIM), and a graceful
stop. The same pool runs inside the API process (BATCH_WORKER_TASKS) and in `python -m
batch.worker`; every process is one consumer of the group, named BATCH_CONSUMER_NAME."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from batch.chunks import Chunk, ChunkQueue
from batch.errors import StoreUnavailable
from batch.processing import ChunkProcessor

log = logging.getLogger(__name__)


class WorkerPool:
    def __init__(
        self,
        *,
        queue: ChunkQueue,
        processor: ChunkProcessor,
        consumer: str,
        tasks: int,
        block_ms: int,
        reclaim_min_idle_s: float,
        reclaim_interval_s: float,
        stopping: asyncio.Event,
    ) -> None:
        self.queue = queue
        self.processor = processor
        self.consumer = consumer
        self.tasks = tasks
        self.block_ms = block_ms
        self.reclaim_min_idle_ms = int(reclaim_min_idle_s * 1000)
        self.reclaim_interval_s = reclaim_interval_s
        self.stopping = stopping
        self.reclaimed: asyncio.Queue[Chunk] = asyncio.Queue()
        self.in_flight: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        if self.tasks == 0:
            return
        self._tasks = [asyncio.create_task(self._consume(i)) for i in range(self.tasks)]
        self._tasks.append(asyncio.create_task(self._reclaim()))

    async def stop(self, grace_s: float) -> None:
        """Stop taking chunks; give the ones in hand `grace_s`, then leave them pending."""
        self.stopping.set()
        alive: set[asyncio.Task[None]] = set()
        if self._tasks:
            _, alive = await asyncio.wait(self._tasks, timeout=grace_s)
        for task in alive:
            task.cancel()
        for task in alive:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if alive:
            log.info("left %d chunks pending for another worker", len(alive))

    async def _consume(self, index: int) -> None:
        failures = 0
        while not self.stopping.is_set():
            try:
                for chunk in await self._next():
                    await self._handle(chunk)
                failures = 0
            except StoreUnavailable as exc:
                failures += 1
                log.warning("worker %d: %s", index, exc)
                await self._idle(min(5.0, 0.1 * 2**failures))
            except Exception:
                log.exception("worker %d: unexpected error; the chunk stays pending", index)
                await self._idle(1.0)

    async def _next(self) -> list[Chunk]:
        with contextlib.suppress(asyncio.QueueEmpty):
            return [self.reclaimed.get_nowait()]
        return await self.queue.read_new(self.consumer, block_ms=self.block_ms)

    async def _handle(self, chunk: Chunk) -> None:
        if chunk.message_id in self.in_flight:
            return
        self.in_flight.add(chunk.message_id)
        try:
            await self.processor.handle(chunk)
        finally:
            self.in_flight.discard(chunk.message_id)

    async def _reclaim(self) -> None:
        while not self.stopping.is_set():
            try:
                chunks = await self.queue.claim_idle(
                    self.consumer, min_idle_ms=self.reclaim_min_idle_ms, count=self.tasks
                )
                fresh = [c for c in chunks if c.message_id not in self.in_flight]
                for chunk in fresh:
                    self.reclaimed.put_nowait(chunk)
                if fresh:
                    log.info("took over %d chunks left pending", len(fresh))
            except StoreUnavailable as exc:
                log.warning("reclaimer: %s", exc)
            await self._idle(self.reclaim_interval_s)

    async def _idle(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)
