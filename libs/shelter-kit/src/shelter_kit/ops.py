"""The operations routes every service answers: `/healthz`, `/readyz`, `/metrics`.

- `/healthz`: the process is alive (always 200 while it can answer).
- `/readyz`: 200 `{"status": "ready", "checks": {...}}` when every check passes, else a 503
  problem+json `not-ready` listing each check's state, with Retry-After. A check is an async
  callable returning None when fine or a short reason when not; it must not raise.
- `/metrics`: the service's Prometheus registry, after an optional async refresh (gauges that are
  read from a store at scrape time).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from shelter_kit.handlers import problem_response
from shelter_kit.problems import problem, problem_responses

Check = Callable[[], Awaitable[str | None]]
Refresh = Callable[[], Awaitable[None]]


async def run_checks(checks: Mapping[str, Check]) -> dict[str, str]:
    """Every check at once (slow checks do not add up); a check that raises is failing."""

    async def one(check: Check) -> str:
        try:
            reason = await check()
        except Exception as exc:  # a failing check, not a 500
            reason = f"check failed: {type(exc).__name__}"
        return "ok" if reason is None else reason

    names = list(checks)
    results = await asyncio.gather(*(one(checks[name]) for name in names))
    return dict(zip(names, results, strict=True))


def _failing(reason: str) -> Check:
    async def check() -> str | None:
        return reason

    return check


def ops_router(
    *,
    registry: CollectorRegistry,
    checks: Callable[[], Mapping[str, Check]],
    refresh: Refresh | None = None,
) -> APIRouter:
    """`checks` is called per request, so a lifespan may put the parts in place after startup."""
    router = APIRouter(tags=["ops"])

    @router.get("/healthz", summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Readiness", responses=problem_responses(503))
    async def readyz() -> JSONResponse:
        try:
            current = checks()
        except Exception as exc:  # the parts are not in place yet (start-up): not ready
            current = {"startup": _failing(f"not started: {type(exc).__name__}")}
        results = await run_checks(current)
        failing = {name: reason for name, reason in results.items() if reason != "ok"}
        if not failing:
            return JSONResponse({"status": "ready", "checks": results})
        detail = "; ".join(f"{name}: {reason}" for name, reason in failing.items())
        body = problem(503, "not-ready", detail, checks=results)
        return problem_response(body, {"Retry-After": "1"})

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        if refresh is not None:
            await refresh()
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
