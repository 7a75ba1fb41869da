"""The aggregator app: `uvicorn aggregator.main:create_app --factory --port 8003`.

Wires the parts (store, fusion and alert settings, metrics, clock), runs the periodic work (the
key-layout upgrade at start, then alert evaluation for time-based conditions and the pruning of
old resolved alerts; and, with `ingest_url` set, the camera health alerts from camera-ingest's
camera list, every `camera_poll_s`), and installs the kit: request ids, problem+json from
`errors.ERROR_STATUS`, HTTP metrics, `/healthz`, `/readyz` (Redis answers and the stored data is
on the current layout), `/metrics`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import AsyncIterator, Callable
from types import FrameType
from typing import Any

from fastapi import FastAPI

from aggregator import alerting, layout
from aggregator.api import router
from aggregator.config import Settings
from aggregator.errors import ERROR_STATUS, AggregatorError, StoreUnavailable
from aggregator.ingest import IngestClient
from aggregator.metrics import Metrics
from aggregator.shelter import Clock, Shelter, build_shelter, utc_now
from shelter_kit import install
from shelter_kit.logs import configure_logging
from shelter_kit.ops import Check

logger = logging.getLogger(__name__)


def _chain_shutdown_signals(stopping: asyncio.Event) -> Callable[[], None]:
    """Set `stopping` when uvicorn is told to exit, so open event streams end.

    uvicorn waits for open responses before the lifespan shutdown runs, so an SSE stream must
    learn of the exit from the signal itself. We wrap uvicorn's handlers and restore them after.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    previous: dict[int, Callable[[int, FrameType | None], Any]] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        prev = signal.getsignal(sig)
        if not callable(prev):
            continue

        def handler(signum: int, frame: FrameType | None, prev: Any = prev) -> None:
            loop.call_soon_threadsafe(stopping.set)
            prev(signum, frame)

        previous[sig] = prev
        signal.signal(sig, handler)

    def restore() -> None:
        for sig, prev in previous.items():
            signal.signal(sig, prev)

    return restore


async def _upgrade(sh: Shelter, upgraded: asyncio.Event) -> None:
    """Bring the stored data to the current key layout, unless done already."""
    if not upgraded.is_set():
        await layout.upgrade(sh)
        upgraded.set()


async def _periodically(sh: Shelter, stopping: asyncio.Event, upgraded: asyncio.Event) -> None:
    """Every `alert_interval_s`: the layout upgrade until it is done, then evaluate every space
    (stale, not seen: no observation needs to arrive) and prune old resolved alerts."""
    while not stopping.is_set():
        try:
            await _upgrade(sh, upgraded)
            await alerting.evaluate_quietly(sh, scope=None)
            await alerting.prune_resolved(sh)
        except (AggregatorError, StoreUnavailable) as exc:
            logger.warning("periodic work failed: %s", exc)
        except Exception:  # a bug must not end the loop: time-based alerts depend on it
            logger.exception("periodic work failed unexpectedly")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), timeout=sh.settings.alert_interval_s)


async def _watch_cameras(sh: Shelter, ingest: IngestClient, stopping: asyncio.Event) -> None:
    """Every `camera_poll_s`: camera-ingest's camera list, reconciled into camera health alerts."""
    while not stopping.is_set():
        try:
            await alerting.check_cameras(sh, ingest.cameras)
        except (AggregatorError, StoreUnavailable) as exc:
            logger.warning("camera health check failed: %s", exc)
        except Exception:  # a bug must not end the loop
            logger.exception("camera health check failed unexpectedly")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), timeout=sh.settings.camera_poll_s)


def _checks(app: FastAPI) -> dict[str, Check]:
    """Readiness: Redis answers PING, and the stored data is on the current key layout."""

    async def redis() -> str | None:
        shelter: Shelter | None = getattr(app.state, "shelter", None)
        return "starting" if shelter is None else await shelter.store.ping()

    async def data_layout() -> str | None:
        upgraded: asyncio.Event | None = getattr(app.state, "upgraded", None)
        return None if upgraded is not None and upgraded.is_set() else "not upgraded yet"

    return {"redis": redis, "layout": data_layout}


def create_app(settings: Settings | None = None, *, clock: Clock = utc_now) -> FastAPI:
    settings = settings or Settings()
    configure_logging(settings.service_name, settings.log_level)
    metrics = Metrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        shelter = build_shelter(settings, metrics=metrics, clock=clock)
        stopping, upgraded = asyncio.Event(), asyncio.Event()
        app.state.shelter, app.state.stopping, app.state.upgraded = shelter, stopping, upgraded
        with contextlib.suppress(AggregatorError, StoreUnavailable):  # else the task retries
            await _upgrade(shelter, upgraded)
        restore = _chain_shutdown_signals(stopping)
        tasks = [asyncio.create_task(_periodically(shelter, stopping, upgraded))]
        ingest = None
        if settings.ingest_url is not None:  # camera health alerts are on
            ingest = IngestClient(base_url=settings.ingest_url, timeout_s=settings.ingest_timeout_s)
            tasks.append(asyncio.create_task(_watch_cameras(shelter, ingest, stopping)))
        logger.info("aggregator ready", extra={"redis": settings.redis_url.split("@")[-1]})
        try:
            yield
        finally:
            stopping.set()
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if ingest is not None:
                await ingest.close()
            restore()
            await shelter.store.close()

    app = FastAPI(title="Shelter Watch aggregator", version="1", lifespan=lifespan)
    app.state.metrics = metrics
    install(app, status_map=ERROR_STATUS, registry=metrics.registry, checks=lambda: _checks(app))
    app.include_router(router)
    return app
