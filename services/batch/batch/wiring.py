"""Bootstrap: builds every part from the settings, starts the background tasks (the workers, the
janitor) and stops them. No FastAPI here: main.py's lifespan and `python -m batch.worker` both
call `build`, `Parts.start` and `Parts.stop`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from batch.archives import Limits
from batch.chunks import ChunkQueue
from batch.clients import ClassifierClient, IngestClient, make_client
from batch.config import Settings
from batch.egress import Guard, parse_networks
from batch.errors import StoreUnavailable
from batch.fetch import Fetcher, make_fetch_client
from batch.intake import Intake
from batch.janitor import Janitor
from batch.jobs import Jobs
from batch.metrics import Metrics
from batch.processing import ChunkProcessor, Policy
from batch.sources import Sources
from batch.store import Redis, connect, ping
from batch.workers import WorkerPool
from batch.workspace import Workspace
from shelter_kit.ops import Check

log = logging.getLogger(__name__)


@dataclass
class Parts:
    settings: Settings
    redis: Redis
    http: httpx.AsyncClient
    fetch_http: httpx.AsyncClient
    metrics: Metrics
    jobs: Jobs
    queue: ChunkQueue
    intake: Intake
    pool: WorkerPool
    janitor: Janitor
    stopping: asyncio.Event
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def state(self) -> dict[str, Any]:
        """What the routes reach (through `Annotated` dependencies on app.state)."""
        return {
            "parts": self,
            "jobs": self.jobs,
            "intake": self.intake,
            "settings": self.settings,
            "stopping": self.stopping,
        }

    def checks(self) -> Mapping[str, Check]:
        """Readiness: Redis answers, and the data dir is there to write in."""

        async def data_dir() -> str | None:
            root = self.settings.data_dir
            return None if root.is_dir() else f"{root} is not a folder"

        return {"redis": lambda: ping(self.redis), "data_dir": data_dir}

    async def refresh_metrics(self) -> None:
        with contextlib.suppress(StoreUnavailable):
            stats = await self.queue.stats()
            self.metrics.queue_depth.set(stats.depth)
            self.metrics.queue_pending.set(stats.pending)

    async def start(self) -> None:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            await self.queue.ensure_group()
        except StoreUnavailable as exc:  # the workers create it once Redis answers
            log.warning("chunk queue group not created yet: %s", exc)
        self.pool.start()
        self.tasks.append(asyncio.create_task(self.janitor.run()))

    async def stop(self) -> None:
        self.stopping.set()
        await self.pool.stop(self.settings.shutdown_grace_s)
        for task in self.tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.http.aclose()
        await self.fetch_http.aclose()
        await self.redis.aclose()


def build(s: Settings, metrics: Metrics) -> Parts:
    redis = connect(s.redis_url)
    http = make_client(connect_timeout_s=s.connect_timeout_s, request_timeout_s=s.request_timeout_s)
    fetch_http = make_fetch_client(timeout_s=s.fetch_timeout_s)
    stopping = asyncio.Event()
    workspace = Workspace(s.data_dir)
    jobs = Jobs(
        redis,
        chunk_size=s.chunk_size,
        retention_s=s.retention_s,
        max_age_s=s.max_job_age_s,
        max_listed=s.comparison_max_listed,
    )
    queue = ChunkQueue(redis)
    classifier = ClassifierClient(http, s.classifier_url)
    ingest = IngestClient(http, s.ingest_url, max_bytes=s.max_item_bytes)
    limits = Limits(
        max_entries=s.archive_max_entries,
        max_items=s.max_items,
        max_expanded_bytes=s.archive_max_expanded_bytes,
        max_item_bytes=s.max_item_bytes,
    )
    sources = Sources(
        workspace=workspace,
        limits=limits,
        ingest=ingest,
        max_upload_bytes=s.max_upload_bytes,
        page_size=s.ingest_page_size,
    )
    fetcher = Fetcher(
        client=fetch_http,
        guard=Guard(allow=parse_networks(s.fetch_allow_networks)),
        max_bytes=s.max_item_bytes,
        max_redirects=s.fetch_max_redirects,
        attempts=s.fetch_attempts,
        retry_base_s=s.retry_base_s,
    )
    policy = Policy(
        max_request_items=s.classifier_max_items,
        max_request_bytes=s.classifier_max_body_bytes,
        fetch_concurrency=s.fetch_concurrency,
        retry_base_s=s.retry_base_s,
        retry_max_s=s.retry_max_s,
        max_server_errors=s.max_server_errors,
    )
    processor = ChunkProcessor(
        jobs=jobs,
        queue=queue,
        workspace=workspace,
        classifier=classifier,
        ingest=ingest,
        fetcher=fetcher,
        metrics=metrics,
        policy=policy,
        consumer=s.consumer_name,
        stopping=stopping,
    )
    pool = WorkerPool(
        queue=queue,
        processor=processor,
        consumer=s.consumer_name,
        tasks=s.worker_tasks,
        block_ms=s.read_block_ms,
        reclaim_min_idle_s=s.reclaim_min_idle_s,
        reclaim_interval_s=s.reclaim_interval_s,
        stopping=stopping,
    )
    janitor = Janitor(
        jobs=jobs,
        workspace=workspace,
        interval_s=s.janitor_interval_s,
        orphan_grace_s=s.orphan_grace_s,
        stopping=stopping,
    )
    intake = Intake(jobs=jobs, sources=sources, classifier=classifier, metrics=metrics)
    return Parts(
        settings=s,
        redis=redis,
        http=http,
        fetch_http=fetch_http,
        metrics=metrics,
        jobs=jobs,
        queue=queue,
        intake=intake,
        pool=pool,
        janitor=janitor,
        stopping=stopping,
    )
