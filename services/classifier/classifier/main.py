"""The classifier's app factory: lifespan, middleware, and the one map from errors to statuses.

Run with `uvicorn classifier.main:create_app --factory` (PYTHONPATH=services/classifier).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from classifier import api, api_v2
from classifier.batching import Overloaded
from classifier.config import Settings
from classifier.errors import (
    ClassifierError,
    CorruptImage,
    ImageTooLarge,
    InvalidInput,
    ModelError,
    ModelNotFound,
    ModelNotReady,
    UnsupportedImage,
)
from classifier.intake import BadMultipart, BodyTooLarge, TooManyImages
from classifier.registry import ModelRegistry
from classifier.telemetry import Metrics, RequestIdMiddleware, configure_logging, request_id_var

logger = logging.getLogger(__name__)

ERROR_STATUS: dict[type[ClassifierError], int] = {
    UnsupportedImage: 415,
    CorruptImage: 422,
    ImageTooLarge: 413,
    BodyTooLarge: 413,
    TooManyImages: 413,
    BadMultipart: 422,
    InvalidInput: 422,
    ModelNotFound: 404,
    ModelNotReady: 503,
    Overloaded: 503,
    ModelError: 500,
    ClassifierError: 500,
}
RETRY_AFTER_SECONDS = "1"
PROBLEM_JSON = "application/problem+json"


def status_for(exc: ClassifierError) -> int:
    """The status of the closest mapped class in the exception's MRO."""
    for cls in type(exc).__mro__:
        if cls in ERROR_STATUS:
            return ERROR_STATUS[cls]
    return 500


def problem(status: int, detail: str, instance: str, **extra: Any) -> dict[str, Any]:
    """An RFC 9457 body; /v2 paths also carry `error`, which Triton clients read."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": instance,
        "request_id": request_id_var.get(),
        **extra,
    }
    if instance.startswith("/v2"):
        body["error"] = detail
    return body


def error_problem(exc: ClassifierError, instance: str) -> dict[str, Any]:
    """The problem body for a domain error (also used per item in batch responses)."""
    return problem(
        status_for(exc),
        str(exc) or type(exc).__name__,
        instance,
        type=f"urn:shelter-watch:classifier:{type(exc).__name__}",
    )


def _problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=body["status"], headers=headers, media_type=PROBLEM_JSON)


async def _on_domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ClassifierError)
    body = error_problem(exc, request.url.path)
    headers = {"Retry-After": RETRY_AFTER_SECONDS} if body["status"] == 503 else None
    if body["status"] >= 500:
        logger.warning("%s: %s", type(exc).__name__, exc)
    return _problem_response(body, headers)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = jsonable_encoder(exc.errors(), exclude={"input", "ctx", "url"})
    body = problem(422, "the request does not validate", request.url.path, errors=errors)
    return _problem_response(body)


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return _problem_response(problem(exc.status_code, str(exc.detail), request.url.path))


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s", request.url.path)
    return _problem_response(problem(500, "internal error", request.url.path))


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


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_logging(settings.log_level)
    app = FastAPI(title="Shelter Watch classifier", version="1", lifespan=lifespan)
    app.state.settings = settings
    app.state.metrics = Metrics()
    app.state.error_problem = error_problem
    app.add_middleware(RequestIdMiddleware)
    app.add_exception_handler(ClassifierError, _on_domain_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(HTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)
    app.include_router(api.router)
    app.include_router(api_v2.router)
    return app
