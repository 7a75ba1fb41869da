"""A worker-only process: the chunk consumers and the janitor, no API. Add processes (or
replicas) to add throughput; each is one consumer of the queue's group.

    PYTHONPATH=services/batch python -m batch.worker      (settings: BATCH_*, as the service)

SIGTERM or SIGINT stops it gracefully (the chunks in hand get BATCH_SHUTDOWN_GRACE_S, then stay
pending for another worker); a SIGKILL loses nothing either: its chunks are taken over once idle
BATCH_RECLAIM_MIN_IDLE_S, and only their items without a result are redone.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from batch.config import Settings
from batch.metrics import Metrics
from batch.wiring import build
from shelter_kit.logs import configure_logging

log = logging.getLogger("batch.worker")


async def run(settings: Settings) -> None:
    if settings.worker_tasks == 0:
        raise SystemExit("BATCH_WORKER_TASKS=0: a worker process needs at least one task")
    parts = build(settings, Metrics())
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, parts.stopping.set)
    await parts.start()
    log.info(
        "worker started",
        extra={"consumer": settings.consumer_name, "tasks": settings.worker_tasks},
    )
    try:
        await parts.stopping.wait()
    finally:
        await parts.stop()
        log.info("worker stopped", extra={"consumer": settings.consumer_name})


def main() -> None:
    settings = Settings()
    configure_logging(f"{settings.service_name}-worker", settings.log_level)
    asyncio.run(run(settings))


if __name__ == "__main__":
    main()
