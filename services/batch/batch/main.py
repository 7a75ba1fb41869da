"""App factory: the kit (logs, request context, problem+json, metrics, ops routes), the routes,
and a lifespan that wires Redis, the job store, the clients, the workers and the janitor. Maps
the domain errors to statuses once (`errors.ERROR_STATUS`).
Run: uvicorn batch.main:create_app --factory (workers only: python -m batch.worker)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from types import FrameType
from typing import Any

from fastapi import FastAPI

from batch.api import router
from batch.config import Settings
from batch.errors import ERROR_STATUS
from batch.metrics import Metrics
from batch.schemas import JobIn
from batch.wiring import Parts, build
from shelter_kit import install
from shelter_kit.logs import configure_logging
from shelter_kit.ops import Check


async def _starting() -> str:
    return "starting up"


def _chain_shutdown_signals(stopping: asyncio.Event) -> Callable[[], None]:
    """Set `stopping` when uvicorn is told to exit (as the aggregator does): uvicorn waits for
    open responses before the lifespan's shutdown runs, so a progress stream (SSE) and the
    workers must learn of the exit from the signal itself. Restored after."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    previous: dict[int, Any] = {}
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


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    metrics = Metrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        parts = build(settings, metrics)
        await parts.start()
        for name, part in parts.state().items():
            setattr(app.state, name, part)
        restore = _chain_shutdown_signals(parts.stopping)
        try:
            yield
        finally:
            restore()
            await parts.stop()

    def parts() -> Parts | None:
        return getattr(app.state, "parts", None)

    def checks() -> Mapping[str, Check]:
        running = parts()
        return running.checks() if running else {"lifespan": _starting}

    async def refresh() -> None:
        if running := parts():
            await running.refresh_metrics()

    configure_logging(settings.service_name, settings.log_level)
    app = FastAPI(title="Shelter Watch batch", version="1", lifespan=lifespan)
    install(app, status_map=ERROR_STATUS, registry=metrics.registry, checks=checks, refresh=refresh)
    app.include_router(router)
    _document_job_in(app)
    return app


def _document_job_in(app: FastAPI) -> None:
    """POST /v1/batch/jobs reads its body itself (JSON or an archive): put `JobIn` and the
    models it uses in the document's components, where the route's request body points."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        doc = JobIn.model_json_schema(ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(doc.pop("$defs", {}))
        components["JobIn"] = doc
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
