"""The worker pool: N consumers of the outbox stream plus a reclaimer that takes over entries
left pending by a dead consumer (at once when its liveness key is gone, `consumers`; else by
XAUTOCLAIM after the min idle time), the pool's own liveness key, and a graceful stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from camera_ingest.consumers import Consumers
from camera_ingest.delivery import Deliverer
from camera_ingest.errors import StoreUnavailable
from camera_ingest.outbox import Entry, Outbox

log = logging.getLogger(__name__)


class WorkerPool:
    def __init__(
        self,
        *,
        outbox: Outbox,
        deliverer: Deliverer,
        consumer: str,
        concurrency: int,
        block_ms: int,
        reclaim_min_idle_s: float,
        reclaim_interval_s: float,
        consumers: Consumers | None = None,
    ) -> None:
        self.outbox = outbox
        self.consumers = consumers
        self.deliverer = deliverer
        self.consumer = consumer
        self.concurrency = concurrency
        self.block_ms = block_ms
        self.reclaim_min_idle_ms = int(reclaim_min_idle_s * 1000)
        self.reclaim_interval_s = reclaim_interval_s
        self.stopping = deliverer.stopping
        self.reclaimed: asyncio.Queue[Entry] = asyncio.Queue()
        self.in_flight: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._consume(i)) for i in range(self.concurrency)]
        self._tasks.append(asyncio.create_task(self._reclaim()))
        if self.consumers is not None:
            self._tasks.append(asyncio.create_task(self._stay_alive(self.consumers)))

    async def stop(self, grace_s: float) -> None:
        """Stop taking work; give in-flight deliveries `grace_s`, then leave them pending."""
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
            log.info("left %d in-flight deliveries pending for reclaim", len(alive))
        if self.consumers is not None:  # a successor takes what we left over at once
            with contextlib.suppress(StoreUnavailable):
                await self.consumers.leave(self.consumer)

    async def _consume(self, index: int) -> None:
        failures = 0
        while not self.stopping.is_set():
            try:
                for entry in await self._next():
                    await self._handle(entry)
                failures = 0
            except StoreUnavailable as exc:
                failures += 1
                log.warning("worker %d: %s", index, exc)
                await self._idle(min(5.0, 0.1 * 2**failures))
            except Exception:
                log.exception("worker %d: unexpected error; entry stays pending", index)
                await self._idle(1.0)

    async def _next(self) -> list[Entry]:
        with contextlib.suppress(asyncio.QueueEmpty):
            return [self.reclaimed.get_nowait()]
        return await self.outbox.read_new(self.consumer, count=1, block_ms=self.block_ms)

    async def _handle(self, entry: Entry) -> None:
        if entry.message_id in self.in_flight:
            return
        self.in_flight.add(entry.message_id)
        try:
            await self.deliverer.handle(entry)
        finally:
            self.in_flight.discard(entry.message_id)

    async def _reclaim(self) -> None:
        while not self.stopping.is_set():
            try:
                entries = []
                if self.consumers is not None:
                    entries += await self.consumers.take_over_dead(self.consumer)
                entries += await self.outbox.claim_idle(
                    self.consumer, min_idle_ms=self.reclaim_min_idle_ms, count=100
                )
                fresh = [e for e in entries if e.message_id not in self.in_flight]
                for entry in fresh:
                    self.reclaimed.put_nowait(entry)
                if fresh:
                    log.info("reclaimed %d pending entries", len(fresh))
            except StoreUnavailable as exc:
                log.warning("reclaimer: %s", exc)
            await self._idle(self.reclaim_interval_s)

    async def _stay_alive(self, consumers: Consumers) -> None:
        while not self.stopping.is_set():
            try:
                await consumers.beat(self.consumer)
            except StoreUnavailable as exc:
                log.warning("liveness key: %s", exc)
            await self._idle(consumers.beat_interval_s)

    async def _idle(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)
