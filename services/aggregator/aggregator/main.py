"""The aggregator app: `uvicorn aggregator.main:create_app --factory --port 8003`.

Wires the parts (store, fusion and alert settings, clock), runs the periodic alert evaluation,
and is the one place that maps domain errors to HTTP statuses (ERROR_STATUS).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
import threading
from collections.abc import AsyncIterator, Callable
from types import FrameType
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from aggregator import alerting
from aggregator.api import router
from aggregator.config import Settings
from aggregator.errors import AggregatorError, Conflict, InvalidInput, NotFound, Unavailable
from aggregator.shelter import Clock, Shelter, build_shelter, utc_now
from aggregator.telemetry import Metrics, RequestContext, configure_logging

logger = logging.getLogger(__name__)
PROBLEM = "application/problem+json"

ERROR_STATUS: dict[type[AggregatorError], int] = {
    NotFound: 404,
    Conflict: 409,
    InvalidInput: 422,
    Unavailable: 503,
}


def status_for(exc: AggregatorError) -> int:
    for cls in type(exc).__mro__:
        if cls in ERROR_STATUS:
            return ERROR_STATUS[cls]
    return 500


def _slug(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def problem(
    request: Request, status: int, title: str, detail: str, kind: str = "about:blank", **extra: Any
) -> JSONResponse:
    body = problem_fields(request, status, title, detail, kind) | extra
    headers = {"Retry-After": "1"} if status == 503 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def problem_fields(
    request: Request, status: int, title: str, detail: str, kind: str = "about:blank"
) -> dict[str, Any]:
    return {
        "type": kind,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "request_id": getattr(request.state, "request_id", "-"),
    }


def problem_body(request: Request, exc: AggregatorError) -> tuple[int, dict[str, Any]]:
    status = status_for(exc)
    kind = f"urn:shelter-watch:aggregator:{_slug(type(exc).__name__)}"
    return status, problem_fields(request, status, exc.title, str(exc), kind)


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AggregatorError)
    status, body = problem_body(request, exc)
    if status >= 500:
        logger.warning("%s: %s", type(exc).__name__, exc)
    headers = {"Retry-After": "1"} if status == 503 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


async def _invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    return problem(
        request, 422, "Invalid request", f"{len(errors)} invalid field(s)", errors=errors
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return problem(request, exc.status_code, str(exc.detail), str(exc.detail))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error", exc_info=exc)
    return problem(request, 500, "Internal error", "unexpected error; see the logs by request_id")


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


async def _evaluate_periodically(sh: Shelter, stopping: asyncio.Event) -> None:
    """Time-based alerts (stale, not seen) need evaluation even when no observation arrives."""
    while not stopping.is_set():
        await alerting.evaluate_quietly(sh, scope=None)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), timeout=sh.settings.alert_interval_s)


def create_app(settings: Settings | None = None, *, clock: Clock = utc_now) -> FastAPI:
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_level)
        shelter = build_shelter(settings, clock)
        stopping = asyncio.Event()
        app.state.shelter, app.state.stopping = shelter, stopping
        restore = _chain_shutdown_signals(stopping)
        task = asyncio.create_task(_evaluate_periodically(shelter, stopping))
        logger.info("aggregator ready", extra={"redis": settings.redis_url.split("@")[-1]})
        try:
            yield
        finally:
            stopping.set()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            restore()
            await shelter.store.close()

    app = FastAPI(title="Shelter Watch aggregator", version="1", lifespan=lifespan)
    app.state.metrics = Metrics()
    app.state.problem = problem
    app.state.problem_body = problem_body
    app.add_middleware(RequestContext, metrics=app.state.metrics)
    app.add_exception_handler(AggregatorError, _domain_error)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    app.include_router(router)
    return app
