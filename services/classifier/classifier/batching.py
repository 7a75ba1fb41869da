"""Dynamic micro-batching: images from concurrent requests share one model execution.

Requests `submit()` one preprocessed tensor and await its prediction. A few worker tasks take
the first waiting image, gather more for up to `max_wait_ms` (at most `max_batch_size` in all),
and run the batch on an inference thread, so the event loop never blocks on the model. With
`workers` inference threads and one-thread ORT sessions, `workers` batches run on separate cores.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from classifier.errors import Overloaded
from classifier.metrics import InferenceMetrics

logger = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")


@dataclass
class _Item:
    tensor: np.ndarray
    future: asyncio.Future[Any]
    enqueued: float = field(default_factory=time.perf_counter)


class MicroBatcher:
    """Queues single images and runs them through `predict` in batches."""

    def __init__(
        self,
        predict: Callable[[np.ndarray], Sequence[Any]],
        *,
        max_batch_size: int,
        max_wait_ms: float,
        max_queue: int,
        workers: int,
        metrics: InferenceMetrics,
        labels: tuple[str, str],
    ) -> None:
        self._predict = predict
        self.max_batch_size = max_batch_size
        self._max_wait = max_wait_ms / 1000
        self._queue: asyncio.Queue[_Item] = asyncio.Queue(maxsize=max_queue)
        self._workers = workers
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="infer")
        self._tasks: list[asyncio.Task[None]] = []
        self._metrics = metrics
        self._labels = labels

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._work()) for _ in range(self._workers)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if not item.future.done():
                item.future.set_exception(Overloaded("the service is shutting down"))
        self.executor.shutdown(wait=True, cancel_futures=True)

    async def submit(self, tensor: np.ndarray) -> Any:
        """The prediction for one [3, H, W] tensor, once its batch has run."""
        item = _Item(tensor, asyncio.get_running_loop().create_future())
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            raise Overloaded(f"{self._queue.maxsize} images already wait for the model") from None
        return await item.future

    async def run(self, func: Callable[[T], R], arg: T) -> R:
        """Run `func(arg)` on an inference thread (for requests that bring their own batch)."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, func, arg)

    async def _work(self) -> None:
        while True:
            batch = await self._gather()
            try:
                await self._execute(batch)
            except Exception as exc:  # one failed batch must not stop the worker
                logger.exception("batch of %d failed", len(batch))
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(exc)

    async def _gather(self) -> list[_Item]:
        batch = [await self._queue.get()]
        deadline = time.perf_counter() + self._max_wait
        while len(batch) < self.max_batch_size:
            if not self._queue.empty():
                batch.append(self._queue.get_nowait())
                continue
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), remaining))
            except TimeoutError:
                break
        return [item for item in batch if not item.future.cancelled()]

    async def _execute(self, batch: list[_Item]) -> None:
        if not batch:
            return
        started = time.perf_counter()
        stacked = np.stack([item.tensor for item in batch])
        results = await self.run(self._predict, stacked)
        self._observe(batch, started, time.perf_counter() - started)
        for item, result in zip(batch, results, strict=True):
            if not item.future.done():
                item.future.set_result(result)

    def _observe(self, batch: list[_Item], started: float, compute: float) -> None:
        m, labels = self._metrics, self._labels
        m.exec_count.labels(*labels).inc()
        m.count.labels(*labels).inc(len(batch))
        m.batch_size.labels(*labels).observe(len(batch))
        m.compute_seconds.labels(*labels).observe(compute)
        queue_hist = m.queue_seconds.labels(*labels)
        for item in batch:
            queue_hist.observe(started - item.enqueued)
