"""Work off the response path: a shadow copy for the candidate, or the primary's second opinion
on a canary's answer. Jobs wait in a bounded queue (a full queue sheds the new job, counted,
never blocks the request) and a few worker tasks run each within a timeout, so a failing or
hanging candidate costs only its own jobs: the response was sent before the job ran.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from classifier.tasks import cancel_and_wait

log = logging.getLogger(__name__)
SHADOW, COMPARE = "shadow", "compare"


@dataclass(frozen=True)
class ShadowJob:
    """`run` labels the images again with `version`; `answered` are the labels already sent
    (the primary's for a shadow, the candidate's for a compare), one per prediction id; the
    comparison counts for `candidate` (= `version` for a shadow)."""

    mode: str
    version: str
    candidate: str
    rollout: int
    run: Callable[[], Awaitable[list[str]]]
    answered: list[str]
    prediction_ids: list[str | None]


Done = Callable[[ShadowJob, list[str] | None, float], None]  # labels (None: failed), seconds


class ShadowRunner:
    def __init__(
        self,
        *,
        size: int,
        workers: int,
        timeout_s: float,
        on_done: Done,
        on_shed: Callable[[str], None],
    ) -> None:
        self._queue: asyncio.Queue[ShadowJob] = asyncio.Queue(maxsize=size)
        self._workers = workers
        self._timeout_s = timeout_s
        self._on_done = on_done
        self._on_shed = on_shed
        self._tasks: list[asyncio.Task[None]] = []

    def offer(self, job: ShadowJob) -> bool:
        try:
            self._queue.put_nowait(job)
        except asyncio.QueueFull:
            self._on_shed(job.mode)
            return False
        return True

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._work(), name=f"shadow-{i}") for i in range(self._workers)
        ]

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)

    async def _work(self) -> None:
        while True:
            job = await self._queue.get()
            started = time.perf_counter()
            labels: list[str] | None
            try:
                labels = await asyncio.wait_for(job.run(), self._timeout_s)
            except Exception as exc:  # the candidate's failure is data, not our error
                log.info(
                    "%s run on %s failed: %s: %s", job.mode, job.version, type(exc).__name__, exc
                )
                labels = None
            try:
                self._on_done(job, labels, time.perf_counter() - started)
            except Exception:
                log.exception("recording a %s result failed", job.mode)
