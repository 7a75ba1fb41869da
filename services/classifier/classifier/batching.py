"""Dynamic micro-batching on inference threads that feed themselves.

Requests `submit()` one preprocessed tensor, or `submit_image()` the function that decodes
one (bytes to tensor), and await the prediction. `workers` inference threads each take the first
waiting image from a thread-safe queue, gather more for up to `max_wait_ms` (at most
`max_batch_size` in all), decode what came as bytes, run the batch and hand the results back to
the event loop.

Decoding on the inference thread (rather than on a separate pool) is the in-process limit's own
layout, one thread doing decode then inference: no hand-off between the decode and the batch,
and two busy threads on two cores instead of four decode threads and two inference threads
contending for them (docs/benchmarks.md has the A/B). An image that does not decode fails only
itself; the rest of its batch runs.

The threads never wait for the event loop to start their next batch: an earlier layout ran one
asyncio task per worker that hopped to a thread pool per batch, and a core sat idle whenever
the loop was busy parsing HTTP (the service used 176% of 200% CPU at c=8, see
docs/benchmarks.md).

The layout adapts to the load without a switch: `predict` runs on one ONNX Runtime session
with a thread per core (`model.py`), so a batch that runs alone gets every core, and two
batches at once share them.

The hand-off is a `queue.Queue`. With `queue.SimpleQueue` in its place, a request now and then
never finished: a stress run (bursts of 400 images 16 at a time, two threads gathering for 2 ms)
hung in 2 of 20 runs with the image put but never taken, and one CI run hung the same way;
with `queue.Queue` 16 runs of the same stress and the CI tests passed.

`max_queue` bounds the images submitted and not yet answered (waiting or running); beyond it
`submit` raises Overloaded. This module is a few dozen lines of threading instead of a library:
the serving frameworks that batch (Triton, BentoML, Ray Serve) are servers, not parts.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
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
Predict = Callable[[np.ndarray], Sequence[Any]]


@dataclass
class _Item:
    tensor: np.ndarray | None
    future: asyncio.Future[Any]
    prepare: Callable[[], np.ndarray] | None = None  # decodes `tensor` on the inference thread
    enqueued: float = field(default_factory=time.perf_counter)


class MicroBatcher:
    """Queues single images and runs them through `predict` in batches."""

    def __init__(
        self,
        predict: Predict,
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
        self._max_queue = max_queue
        self._pending = 0  # submitted, not yet answered (event-loop side only)
        self._queue: queue.Queue[_Item | None] = queue.Queue()
        self._workers = workers
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="infer-raw")
        self._metrics = metrics
        self._labels = labels

    def start(self) -> None:
        self._threads = [
            threading.Thread(target=self._work, name=f"infer-{i}", daemon=True)
            for i in range(self._workers)
        ]
        for thread in self._threads:
            thread.start()

    async def stop(self) -> None:
        """Fail what still waits, let running batches finish, and end the threads."""
        self._stopping = True
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            await asyncio.to_thread(thread.join)
        self._threads = []
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is not None:
                _fail(item, Overloaded("the service is shutting down"))
        await asyncio.sleep(0)  # the failures posted by the threads land
        self.executor.shutdown(wait=True, cancel_futures=True)

    async def submit(self, tensor: np.ndarray) -> Any:
        """The prediction for one [3, H, W] tensor, once its batch has run."""
        return await self._enqueue(_Item(tensor, asyncio.get_running_loop().create_future()))

    async def submit_image(self, prepare: Callable[[], np.ndarray]) -> tuple[Any, np.ndarray]:
        """The prediction for the tensor `prepare()` returns (called on the inference thread;
        what it raises fails this image only), and that tensor (a shadow may reuse it)."""
        item = _Item(None, asyncio.get_running_loop().create_future(), prepare)
        result = await self._enqueue(item)
        assert item.tensor is not None  # set by the thread before the result was posted
        return result, item.tensor

    async def _enqueue(self, item: _Item) -> Any:
        if self._pending >= self._max_queue:
            raise Overloaded(f"{self._max_queue} images already wait for the model")
        self._pending += 1
        item.future.add_done_callback(self._answered)
        self._queue.put(item)
        return await item.future

    def _answered(self, _: asyncio.Future[Any]) -> None:
        self._pending -= 1

    async def run(self, func: Callable[[T], R], arg: T) -> R:
        """Run `func(arg)` on an inference thread (for requests that bring their own batch)."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, func, arg)

    def _work(self) -> None:
        while (batch := self._gather()) is not None:
            if self._stopping:
                for item in batch:
                    _fail(item, Overloaded("the service is shutting down"))
                continue
            if batch:
                self._execute(batch)

    def _gather(self) -> list[_Item] | None:
        """The next batch (live items only), or None when the batcher stops."""
        first = self._queue.get()
        if first is None:
            return None
        batch = [first]
        deadline = time.perf_counter() + self._max_wait
        while len(batch) < self.max_batch_size:
            try:
                remaining = deadline - time.perf_counter()
                more = (
                    self._queue.get(timeout=remaining)
                    if remaining > 0
                    else self._queue.get_nowait()
                )
            except queue.Empty:
                break
            if more is None:  # stopping: leave the sentinel for this thread's next take
                self._queue.put(None)
                break
            batch.append(more)
        return [item for item in batch if not item.future.cancelled()]

    def _execute(self, batch: list[_Item]) -> None:
        ready = [(item, tensor) for item in batch if (tensor := _tensor(item)) is not None]
        if not ready:
            return
        batch = [item for item, _ in ready]
        started = time.perf_counter()
        try:
            results = self._predict(np.stack([tensor for _, tensor in ready]))
        except Exception as exc:  # one failed batch must not stop the worker
            logger.exception("batch of %d failed", len(batch))
            for item in batch:
                _fail(item, exc)
            return
        self._observe(batch, started, time.perf_counter() - started)
        for item, result in zip(batch, results, strict=True):
            loop = item.future.get_loop()
            if not loop.is_closed():
                loop.call_soon_threadsafe(_settle, item.future, result)

    def _observe(self, batch: list[_Item], started: float, compute: float) -> None:
        m, labels = self._metrics, self._labels
        m.exec_count.labels(*labels).inc()
        m.count.labels(*labels).inc(len(batch))
        m.batch_size.labels(*labels).observe(len(batch))
        m.compute_seconds.labels(*labels).observe(compute)
        queue_hist = m.queue_seconds.labels(*labels)
        for item in batch:
            queue_hist.observe(started - item.enqueued)


def _tensor(item: _Item) -> np.ndarray | None:
    """The item's tensor, decoded here if it came as bytes; None (the item failed) if the image
    does not decode."""
    if item.prepare is not None:
        try:
            item.tensor = item.prepare()
        except Exception as exc:  # an image that does not decode fails only itself
            _fail(item, exc)
            return None
    return item.tensor


def _settle(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():
        future.set_result(result)


def _reject(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


def _fail(item: _Item, exc: BaseException) -> None:
    """Fail one item from any thread (the future belongs to its event loop)."""
    loop = item.future.get_loop()
    if loop.is_closed():
        return
    loop.call_soon_threadsafe(_reject, item.future, exc)
