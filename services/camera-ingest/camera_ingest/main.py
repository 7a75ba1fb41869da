"""App factory: the kit (logs, request context, problem+json, metrics, ops routes), the routes,
and a lifespan that wires Redis, the outbox, the clients, the workers and the poller. Maps the
domain errors to statuses in one dict. Run: uvicorn camera_ingest.main:create_app --factory"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping

from fastapi import FastAPI

from camera_ingest import errors
from camera_ingest.api import router
from camera_ingest.config import Settings
from camera_ingest.framestore import StoreFactory
from camera_ingest.metrics import Metrics
from camera_ingest.wiring import Parts, build
from shelter_kit import install
from shelter_kit.logs import configure_logging
from shelter_kit.ops import Check

ERROR_STATUS: dict[type[Exception], int] = {
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.InvalidCamera: 422,
    errors.FrameTooLarge: 413,
    errors.ImageTooLarge: 413,
    errors.UnsupportedMediaType: 415,
    errors.UndecodableImage: 422,
    errors.OutboxFull: 503,
    errors.ArchiveUnavailable: 503,
    errors.StoreUnavailable: 503,
}


async def _starting() -> str:
    return "starting up"


def create_app(
    settings: Settings | None = None, *, frame_stores: StoreFactory | None = None
) -> FastAPI:
    """`frame_stores`: the archive's store (default: a folder, `INGEST_ARCHIVE_DIR`)."""
    settings = settings or Settings()
    metrics = Metrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        parts = build(settings, metrics, frame_stores=frame_stores)
        for name, part in parts.state().items():  # through State, not its __dict__
            setattr(app.state, name, part)
        tasks = await parts.start()
        try:
            yield
        finally:
            await parts.stop(tasks)

    def parts() -> Parts | None:
        return getattr(app.state, "parts", None)

    def checks() -> Mapping[str, Check]:
        running = parts()
        return running.checks() if running else {"lifespan": _starting}

    async def refresh() -> None:
        if running := parts():
            await running.refresh_metrics()

    configure_logging(settings.service_name, settings.log_level)
    app = FastAPI(title="camera-ingest", version="1.0.0", lifespan=lifespan)
    install(app, status_map=ERROR_STATUS, registry=metrics.registry, checks=checks, refresh=refresh)
    app.include_router(router)
    return app
