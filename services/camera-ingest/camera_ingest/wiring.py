"""Bootstrap: builds every part from the settings, starts the background tasks and stops them.
No FastAPI here; main.py's lifespan calls `build`, `Parts.start` and `Parts.stop`, and the
kit's ops routes call `Parts.checks` and `Parts.refresh_metrics`. A test may pass its own frame
store (`build(..., frame_stores=...)`): anything that implements `framestore.FrameStore`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from camera_ingest.archive import Archive
from camera_ingest.archive_index import ArchiveIndex
from camera_ingest.breaker import STATE_VALUE, CircuitBreaker
from camera_ingest.cameras import Cameras
from camera_ingest.clients import AggregatorClient, ClassifierClient, make_client
from camera_ingest.config import Settings
from camera_ingest.consumers import Consumers
from camera_ingest.delivery import Deliverer, RetryPolicy
from camera_ingest.egress import AddressGuard
from camera_ingest.errors import StoreUnavailable
from camera_ingest.framestore import StoreFactory, disk_stores
from camera_ingest.intake import Intake
from camera_ingest.metrics import Metrics
from camera_ingest.outbox import Outbox
from camera_ingest.poller import Poller, PollPolicy
from camera_ingest.retention import Retention, RetentionPolicy
from camera_ingest.snapshots import SnapshotFetcher, make_snapshot_client
from camera_ingest.store import Redis, connect, ping
from camera_ingest.workers import WorkerPool
from shelter_kit.ops import Check

log = logging.getLogger(__name__)


@dataclass
class Parts:
    settings: Settings
    redis: Redis
    http: httpx.AsyncClient
    snapshot_http: httpx.AsyncClient
    metrics: Metrics
    outbox: Outbox
    archive: Archive
    cameras: Cameras
    intake: Intake
    breakers: dict[str, CircuitBreaker]
    pool: WorkerPool
    poller: Poller
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    scratch: Path | None = None  # the archive's temporary folder, when no folder was set
    reader: Redis | None = None  # the workers' blocking reads (store.BLOCKING_TIMEOUT_S)

    def state(self) -> dict[str, Any]:
        """What the routes reach (through `Annotated` dependencies on app.state)."""
        return {
            "parts": self,
            "outbox": self.outbox,
            "archive": self.archive,
            "cameras": self.cameras,
            "intake": self.intake,
            "breakers": self.breakers,
        }

    def checks(self) -> Mapping[str, Check]:
        """Readiness: Redis answers."""
        return {"redis": lambda: ping(self.redis)}

    async def refresh_metrics(self) -> None:
        """Gauges read at scrape time: the outbox and archive from Redis, the breakers from
        memory."""
        for name, breaker in self.breakers.items():
            self.metrics.breaker_state.labels(name).set(STATE_VALUE[breaker.state])
        with contextlib.suppress(StoreUnavailable):
            stats = await self.outbox.stats()
            self.metrics.outbox_depth.set(stats.depth)
            self.metrics.outbox_oldest_age.set(stats.oldest_age_s or 0)
            self.metrics.outbox_pending.set(stats.pending)
            self.metrics.outbox_dead.set(stats.dead)
            size, files = await self.archive.index.totals()
            self.metrics.archive_bytes.set(size)
            self.metrics.archive_files.set(files)

    async def start(self) -> list[asyncio.Task[None]]:
        try:
            await self.outbox.ensure_group()
        except StoreUnavailable as exc:  # the workers create it once Redis answers
            log.warning("outbox group not created yet: %s", exc)
        tasks = [asyncio.create_task(self.archive.run(self.stopping))]
        if self.settings.worker_enabled:
            self.pool.start()
        if self.settings.poll_enabled:
            tasks.append(asyncio.create_task(self.poller.run()))
        return tasks

    async def stop(self, tasks: list[asyncio.Task[None]]) -> None:
        self.stopping.set()
        await self.pool.stop(self.settings.shutdown_grace_s)
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.archive.close()
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
        await self.http.aclose()
        await self.snapshot_http.aclose()
        await self.redis.aclose()
        if self.reader is not None:
            await self.reader.aclose()


def build(s: Settings, metrics: Metrics, *, frame_stores: StoreFactory | None = None) -> Parts:
    """Every part from the settings; `metrics` is made with the app (the kit's HTTP metrics
    share its registry); `frame_stores` opens the archive's store (default: a disk folder)."""
    redis, reader = connect(s.redis_url), connect(s.redis_url, blocking=True)
    http = make_client(connect_timeout_s=s.connect_timeout_s, request_timeout_s=s.request_timeout_s)
    # Snapshots have a client of their own: the egress rules apply to cameras, not to downstreams.
    snapshot_http = make_snapshot_client(
        connect_timeout_s=s.connect_timeout_s, timeout_s=s.poll_timeout_s
    )
    guard = AddressGuard(allow=s.snapshot_allow, timeout_s=s.connect_timeout_s)
    stopping = asyncio.Event()
    outbox = Outbox(
        redis,
        max_depth=s.outbox_max_depth,
        data_ttl_s=s.frame_ttl_s,
        record_ttl_s=s.record_ttl_s,
        idempotency_ttl_s=s.idempotency_ttl_s,
        dedupe_window_s=s.dedupe_window_s,
        retry_after_s=s.retry_after_s,
        reader=reader,
    )
    scratch = None if frame_stores or s.archive_dir else scratch_folder()
    stores = frame_stores or disk_stores(
        scratch or Path(s.archive_dir), tmp_grace_s=s.archive_orphan_grace_s
    )
    archive = build_archive(s, redis, metrics, stores)
    cameras = Cameras(
        redis,
        guard=guard,
        offline_after=s.poll_offline_after,
        push_offline_after_s=s.push_offline_after_s,
        on_delete=archive.forget_camera,
    )
    intake = Intake(
        cameras=cameras, outbox=outbox, metrics=metrics, max_frame_bytes=s.max_frame_bytes
    )
    breakers = {
        name: CircuitBreaker(name, failures=s.breaker_failures, reset_s=s.breaker_reset_s)
        for name in ("classifier", "aggregator")
    }
    deliverer = Deliverer(
        outbox=outbox,
        classifier=ClassifierClient(http, s.classifier_url),
        aggregator=AggregatorClient(http, s.aggregator_url),
        archive=archive,
        breakers=breakers,
        policy=RetryPolicy(s.retry_base_s, s.retry_max_s, s.max_attempts, s.max_server_errors),
        metrics=metrics,
        consumer=s.consumer_name,
        stopping=stopping,
    )
    pool = WorkerPool(
        outbox=outbox,
        deliverer=deliverer,
        consumer=s.consumer_name,
        concurrency=s.worker_concurrency,
        block_ms=s.read_block_ms,
        reclaim_min_idle_s=s.reclaim_min_idle_s,
        reclaim_interval_s=s.reclaim_interval_s,
        consumers=Consumers(redis, ttl_s=s.consumer_ttl_s),
    )
    policy = PollPolicy(
        tick_s=s.poll_tick_s,
        concurrency=s.poll_concurrency,
        offline_after=s.poll_offline_after,
        backoff_max_s=s.poll_backoff_max_s,
        skip_identical=s.poll_skip_identical,
    )
    fetcher = SnapshotFetcher(
        client=snapshot_http, guard=guard, timeout_s=s.poll_timeout_s, max_bytes=s.max_frame_bytes
    )
    poller = Poller(
        cameras=cameras,
        intake=intake,
        fetcher=fetcher,
        metrics=metrics,
        policy=policy,
        stopping=stopping,
    )
    return Parts(
        settings=s,
        redis=redis,
        http=http,
        snapshot_http=snapshot_http,
        metrics=metrics,
        outbox=outbox,
        archive=archive,
        cameras=cameras,
        intake=intake,
        breakers=breakers,
        pool=pool,
        poller=poller,
        stopping=stopping,
        scratch=scratch,
        reader=reader,
    )


def build_archive(s: Settings, redis: Redis, metrics: Metrics, stores: StoreFactory) -> Archive:
    index = ArchiveIndex(redis)
    policy = RetentionPolicy(
        max_age_s=s.archive_max_age_s,
        max_per_camera=s.archive_max_per_camera,
        max_bytes=s.archive_max_bytes,
        orphan_grace_s=s.archive_orphan_grace_s,
    )
    return Archive(
        index=index,
        stores=stores,
        retention=Retention(index=index, policy=policy, metrics=metrics),
        metrics=metrics,
        write_timeout_s=s.archive_write_timeout_s,
        sweep_interval_s=s.archive_sweep_interval_s,
    )


def scratch_folder() -> Path:
    """The archive's folder when INGEST_ARCHIVE_DIR is not set: this process's own, deleted at
    stop, so that a process nobody configured (a test's) never fills a shared folder."""
    folder = Path(tempfile.mkdtemp(prefix="ingest-archive-"))
    log.warning("INGEST_ARCHIVE_DIR is not set: frames are archived in %s until we stop", folder)
    return folder
