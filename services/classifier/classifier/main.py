"""The classifier's app factory: the lifespan that loads the models, and shelter-kit installed.

Run with `uvicorn classifier.main:create_app --factory` (PYTHONPATH=services/classifier).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from classifier import api, api_v2
from classifier.config import Settings
from classifier.errors import ERROR_STATUS
from classifier.metrics import InferenceMetrics
from classifier.registry import ModelRegistry
from shelter_kit import install
from shelter_kit.logs import configure_logging
from shelter_kit.ops import Check

SERVICE = "classifier"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    registry = ModelRegistry(settings, app.state.metrics)
    registry.discover()
    registry.start()  # loads on a background thread: live at once, ready once warmed
    app.state.registry = registry
    app.state.pool = ThreadPoolExecutor(settings.worker_threads, thread_name_prefix="preprocess")
    try:
        yield
    finally:
        await registry.stop()
        app.state.pool.shutdown(wait=True, cancel_futures=True)


def readiness(app: FastAPI) -> dict[str, Check]:
    """Ready when every model is loaded and warmed (the registry's one flag per model)."""

    async def models() -> str | None:
        registry: ModelRegistry | None = getattr(app.state, "registry", None)
        return "starting" if registry is None else registry.not_ready_reason()

    return {"models": models}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_logging(SERVICE, settings.log_level)
    app = FastAPI(title="Shelter Watch classifier", version="1", lifespan=lifespan)
    prometheus = CollectorRegistry()  # the kit's HTTP metrics and our inference metrics
    app.state.settings = settings
    app.state.metrics = InferenceMetrics(prometheus)
    install(
        app,
        status_map=ERROR_STATUS,
        registry=prometheus,
        checks=lambda: readiness(app),
        extend_problem=triton_error_member,
    )
    app.include_router(api.router)
    app.include_router(api_v2.router)
    return app


def triton_error_member(path: str, body: dict[str, Any]) -> dict[str, Any]:
    """Problems under /v2 also carry `error` (= `detail`): Triton's and KServe's clients read that
    member, and raise a bare KeyError without it."""
    return {"error": body["detail"]} if path == "/v2" or path.startswith("/v2/") else {}
