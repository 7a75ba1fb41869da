"""The snapshot scheduler: fetches each enabled polled camera at its interval, backs off a
failing camera (exponential, capped), marks it offline after N failures in a row, and lets it
recover by itself. A hung camera only holds its own fetch, bounded by the poll timeout. What a
fetch may reach, and how, is `snapshots`' (pinned to checked addresses, no redirects, basic auth);
a failure's reason (never a credential) becomes the camera's `last_error`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass

from camera_ingest.cameras import Cameras
from camera_ingest.errors import InvalidFrame, OutboxFull, SnapshotError, StoreUnavailable
from camera_ingest.intake import Intake
from camera_ingest.metrics import Metrics
from camera_ingest.schemas import CameraIn
from camera_ingest.snapshots import SnapshotFetcher
from shelter_kit.context import request_id_var

log = logging.getLogger(__name__)


@dataclass
class _Schedule:
    next_due: float = 0.0
    failures: int = 0


@dataclass(frozen=True)
class PollPolicy:
    tick_s: float
    concurrency: int
    offline_after: int
    backoff_max_s: float
    skip_identical: bool


class Poller:
    def __init__(
        self,
        *,
        cameras: Cameras,
        intake: Intake,
        fetcher: SnapshotFetcher,
        metrics: Metrics,
        policy: PollPolicy,
        stopping: asyncio.Event,
    ) -> None:
        self.cameras = cameras
        self.intake = intake
        self.fetcher = fetcher
        self.metrics = metrics
        self.policy = policy
        self.stopping = stopping
        self.schedule: dict[str, _Schedule] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(policy.concurrency)

    async def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self._dispatch(await self.cameras.configs())
            except StoreUnavailable as exc:
                log.warning("poller: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), self.policy.tick_s)
        for task in self.tasks.values():
            task.cancel()

    def _dispatch(self, configs: list[CameraIn]) -> None:
        now = time.monotonic()
        polled = {c.id: c for c in configs if c.mode == "poll" and c.enabled}
        for gone in set(self.schedule) - set(polled):
            del self.schedule[gone]
        for camera in polled.values():
            schedule = self.schedule.setdefault(camera.id, _Schedule())
            busy = camera.id in self.tasks and not self.tasks[camera.id].done()
            if now >= schedule.next_due and not busy:
                self.tasks[camera.id] = asyncio.create_task(self._poll(camera, schedule))

    async def _poll(self, camera: CameraIn, schedule: _Schedule) -> None:
        request_id_var.set(f"poll-{uuid.uuid4().hex[:16]}")
        schedule.next_due = time.monotonic() + camera.interval_s
        try:
            async with self._slots:
                if not await self.cameras.claim_poll(camera.id, int(camera.interval_s * 900)):
                    return  # another replica polls this camera in this interval
                await self._fetch_and_store(camera)
            schedule.failures = 0
            self.metrics.camera_online.labels(camera.id).set(1)
        except (SnapshotError, InvalidFrame) as exc:
            with contextlib.suppress(StoreUnavailable):
                await self._failed(camera, schedule, exc)
        except OutboxFull as exc:  # backpressure: not the camera's fault, try again later
            self.metrics.polls.labels("dropped").inc()
            self.metrics.frames_rejected.labels("OutboxFull").inc()
            log.warning("poll of %s dropped: %s", camera.id, exc, extra={"camera_id": camera.id})
        except StoreUnavailable as exc:
            log.warning("poll of %s not stored: %s", camera.id, exc)
        except Exception:  # a task's error must never go unseen ("exception never retrieved")
            self.metrics.polls.labels("failed").inc()
            log.exception("poll of %s failed unexpectedly", camera.id)

    async def _fetch_and_store(self, camera: CameraIn) -> None:
        frame = await self.fetcher.fetch(str(camera.snapshot_url), camera.snapshot_auth)
        skip = self.policy.skip_identical
        if skip and await self.cameras.last_sha(camera.id) == frame.sha256:
            self.metrics.frames_skipped.inc()
            self.metrics.polls.labels("skipped").inc()
            await self.cameras.note(camera.id, "skipped")
            return
        await self.intake.store(
            camera, frame, source="poll", request_id=request_id_var.get(), dedupe=False
        )
        if skip:  # only after the store: a failed store must not hide the next identical frame
            await self.cameras.set_last_sha(camera.id, frame.sha256)
        self.metrics.polls.labels("ok").inc()

    async def _failed(self, camera: CameraIn, schedule: _Schedule, exc: Exception) -> None:
        schedule.failures += 1
        delay = min(self.policy.backoff_max_s, camera.interval_s * 2**schedule.failures)
        schedule.next_due = time.monotonic() + delay
        self.metrics.polls.labels("failed").inc()
        self.metrics.frames_rejected.labels(type(exc).__name__).inc()
        errors = await self.cameras.note(camera.id, "failed", str(exc))
        offline = errors >= self.policy.offline_after
        self.metrics.camera_online.labels(camera.id).set(0 if offline else 1)
        log.warning(
            "poll failed",
            extra={
                "camera_id": camera.id,
                "error": str(exc),
                "consecutive_errors": errors,
                "retry_in_s": delay,
            },
        )
