"""Retention on disk: a job's folder goes once the job has ended (its results are in Redis, kept
`retention_s` by their TTL), and so does a folder with no job behind it once it has been idle
`orphan_grace_s` (a process that died while it read an upload). Runs in every process, API and
workers alike; two sweeping at once is harmless."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from batch.errors import StoreUnavailable
from batch.jobs import Jobs
from batch.schemas import ACTIVE_STATES
from batch.workspace import Workspace

log = logging.getLogger(__name__)


class Janitor:
    def __init__(
        self,
        *,
        jobs: Jobs,
        workspace: Workspace,
        interval_s: float,
        orphan_grace_s: float,
        stopping: asyncio.Event,
    ) -> None:
        self.jobs = jobs
        self.workspace = workspace
        self.interval_s = interval_s
        self.orphan_grace_s = orphan_grace_s
        self.stopping = stopping

    async def sweep(self) -> list[str]:
        """Remove the folders no job needs; their job ids."""
        removed = []
        for job_id in self.workspace.job_ids():
            state = await self.jobs.state(job_id)
            if state in ACTIVE_STATES:
                continue
            if state == "gone" and self.workspace.idle_s(job_id) < self.orphan_grace_s:
                continue  # being created (the upload is read before the job exists)
            await asyncio.to_thread(self.workspace.remove, job_id)
            removed.append(job_id)
        await self.jobs.prune()
        return removed

    async def run(self) -> None:
        while not self.stopping.is_set():
            try:
                if removed := await self.sweep():
                    log.info("removed the files of %d ended jobs", len(removed))
            except StoreUnavailable as exc:
                log.warning("janitor: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), self.interval_s)
