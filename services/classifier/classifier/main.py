"""The classifier's app factory: the lifespan that builds its parts (`wiring`), and shelter-kit
installed.

Run with `uvicorn classifier.main:create_app --factory` (PYTHONPATH=services/classifier).

Readiness is every model version found at start loaded and warmed, and nothing else: Redis (the
deployment store) is not a readiness check, because predictions keep working without it on the
last deployment this replica applied; GET /v1/deployment (`store.status`) and the metric
`classifier_deployment_store_up` show the degraded state, and deployment changes answer 503.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from classifier import api, api_deployment, api_models, api_v2
from classifier.config import Settings
from classifier.errors import ERROR_STATUS
from classifier.metrics import DeploymentMetrics, InferenceMetrics
from classifier.registry import ModelRegistry
from classifier.wiring import build
from shelter_kit import install
from shelter_kit.logs import configure_logging
from shelter_kit.ops import Check

SERVICE = "classifier"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    parts = build(app.state.settings, app.state.metrics, app.state.deployment_metrics)
    for name, part in parts.state().items():
        setattr(app.state, name, part)
    await parts.start()
    try:
        yield
    finally:
        await parts.stop()


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
    app.state.deployment_metrics = DeploymentMetrics(prometheus)
    install(
        app,
        status_map=ERROR_STATUS,
        registry=prometheus,
        checks=lambda: readiness(app),
        extend_problem=triton_error_member,
    )
    app.include_router(api.router)
    app.include_router(api_models.router)
    app.include_router(api_deployment.router)
    app.include_router(api_v2.router)
    return app


def triton_error_member(path: str, body: dict[str, Any]) -> dict[str, Any]:
    """Problems under /v2 also carry `error` (= `detail`): Triton's and KServe's clients read that
    member, and raise a bare KeyError without it."""
    return {"error": body["detail"]} if path == "/v2" or path.startswith("/v2/") else {}
