"""Off the response path: traffic events wait in a bounded queue and one task writes them to the
store in pipelined batches. When Redis is slow or down the queue fills and new events are shed
(counted), never waited for: a prediction's latency never includes a Redis write.

`drained()` lets feedback wait for this replica's pending writes before it calls an id unknown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from classifier.records import Event
from classifier.tasks import cancel_and_wait
from shelter_kit.errors import StoreUnavailable

log = logging.getLogger(__name__)
Write = Callable[[list[Event]], Awaitable[None]]
BATCH = 500


class Recorder:
    def __init__(
        self, write: Write, *, size: int, on_shed: Callable[[int], None], backoff_s: float = 1.0
    ) -> None:
        self._write = write
        self._queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=size)
        self._on_shed = on_shed
        self._backoff_s = backoff_s
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None

    def offer(self, event: Event) -> bool:
        """Queue `event`; False (and counted as shed) when the queue is full."""
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self._on_shed(1)
            return False
        self._idle.clear()
        return True

    async def drained(self, timeout_s: float) -> None:
        """Wait (at most `timeout_s`) until everything queued so far has been written."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout_s)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="recorder")

    async def stop(self, grace_s: float = 2.0) -> None:
        """Write what is queued (within `grace_s`), then stop."""
        await self.drained(grace_s)
        if self._task is not None:
            await cancel_and_wait([self._task])

    async def _run(self) -> None:
        last_warning = 0.0
        while True:
            batch = [await self._queue.get()]
            while len(batch) < BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._write(batch)
            except StoreUnavailable as exc:
                self._on_shed(len(batch))
                if time.monotonic() - last_warning > 30:  # one line per 30 s, not per batch
                    log.warning("traffic records shed, the store is unavailable: %s", exc)
                    last_warning = time.monotonic()
                await asyncio.sleep(self._backoff_s)
            except Exception:  # a bug in a record must not stop the recorder
                self._on_shed(len(batch))
                log.exception("writing %d traffic records failed", len(batch))
            if self._queue.empty():
                self._idle.set()
