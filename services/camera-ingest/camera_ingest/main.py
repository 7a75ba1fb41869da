"""App factory: wires Redis, the outbox, the clients, the workers and the poller; maps domain
errors to problem+json in one dict. Run: uvicorn camera_ingest.main:create_app --factory"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from camera_ingest import errors
from camera_ingest.api import router
from camera_ingest.config import Settings
from camera_ingest.telemetry import RequestIdMiddleware, configure_logging, request_id_var
from camera_ingest.wiring import Parts, build, refresh_metrics

log = logging.getLogger(__name__)

ERROR_STATUS: dict[type[errors.IngestError], int] = {
    errors.CameraNotFound: 404,
    errors.FrameNotFound: 404,
    errors.CameraExists: 409,
    errors.CameraDisabled: 409,
    errors.NotRedrivable: 409,
    errors.InvalidCamera: 422,
    errors.FrameTooLarge: 413,
    errors.UnsupportedMediaType: 415,
    errors.UndecodableImage: 422,
    errors.OutboxFull: 503,
    errors.StoreUnavailable: 503,
}


def problem(
    request: Request,
    status: int,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {
        "type": f"https://shelter-watch.example/problems/{title.lower().replace(' ', '-')}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "request_id": request_id_var.get(),
        **extra,
    }
    return JSONResponse(
        body, status_code=status, headers=headers, media_type="application/problem+json"
    )


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.IngestError)
    status = next((s for t, s in ERROR_STATUS.items() if isinstance(exc, t)), 500)
    headers = None
    if isinstance(exc, errors.Unavailable):
        headers = {"Retry-After": str(exc.retry_after_s)}
    title = "".join(" " + c if c.isupper() else c for c in type(exc).__name__).strip()
    return problem(request, status, title, str(exc), headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    found = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    return problem(request, 422, "Validation Error", "the request is not valid", errors=found)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return problem(
        request,
        exc.status_code,
        "HTTP Error",
        str(exc.detail),
        dict(exc.headers) if exc.headers else None,
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        parts: Parts = build(settings)
        app.state.__dict__.update(parts.state())
        app.state.refresh_metrics = lambda: refresh_metrics(parts)
        tasks = await parts.start()
        try:
            yield
        finally:
            await parts.stop(tasks)

    configure_logging(settings.service_name, settings.log_level)
    app = FastAPI(title="camera-ingest", version="1.0.0", lifespan=lifespan)
    app.add_middleware(RequestIdMiddleware)
    app.add_exception_handler(errors.IngestError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.include_router(router)
    return app
