"""Exception handlers: a service's domain errors, validation errors and Starlette's HTTP errors,
each answered as problem+json in the one dialect of `problems`.

A service passes its status map (`{CameraNotFound: 404, ...}`); the closest class in an
exception's MRO wins, so mapping a base class covers its subclasses. An exception with a
`retry_after_s` attribute (and every 503) gets a `Retry-After` header that agrees with the detail;
an exception with a `problem_headers` mapping adds those (`WWW-Authenticate` on a 401).
Unexpected exceptions are not handled here but in the middleware (see `middleware`), where the
request id is still known.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match

from shelter_kit.errors import (
    BodyTooLarge,
    FrameTooLarge,
    FrameTypeRefused,
    FrameUnreadable,
    StoreUnavailable,
)
from shelter_kit.problems import PROBLEM_JSON, code_for_name, code_for_status, problem

log = logging.getLogger(__name__)

StatusMap = Mapping[type[Exception], int]
KIT_STATUS: dict[type[Exception], int] = {
    BodyTooLarge: 413,
    StoreUnavailable: 503,
    FrameTypeRefused: 415,  # a service translates these into its own errors; a safety net
    FrameTooLarge: 413,
    FrameUnreadable: 422,
}
MAX_LISTED_ERRORS = 20  # a body of 100,000 bad keys must not earn a 9 MB answer


def status_for(exc: BaseException, status_map: StatusMap) -> int:
    """The status of the closest mapped class in the exception's MRO (500 if none)."""
    for cls in type(exc).__mro__:
        if cls in status_map:
            return status_map[cls]
    return 500


def domain_problem(exc: BaseException, status_map: StatusMap) -> dict[str, Any]:
    """The problem body of a domain error (also usable per item in a batch answer); the kit's
    own errors keep their statuses unless the map says otherwise."""
    status = status_for(exc, {**KIT_STATUS, **status_map})
    return problem(status, code_for_name(type(exc).__name__), str(exc) or type(exc).__name__)


def problem_response(
    body: dict[str, Any], headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body, status_code=body["status"], headers=headers, media_type=PROBLEM_JSON)


def error_headers(exc: BaseException, status: int) -> dict[str, str] | None:
    """Retry-After (from `retry_after_s`, or 1 s on any 503) and the error's `problem_headers`."""
    headers = dict(getattr(exc, "problem_headers", None) or {})
    seconds = getattr(exc, "retry_after_s", None)
    if seconds is not None or status == 503:
        headers["Retry-After"] = str(max(1, math.ceil(seconds or 1)))
    return headers or None


def validation_problem(errors: list[Any]) -> dict[str, Any]:
    """422 listing at most MAX_LISTED_ERRORS errors (no input echoed) and how many more."""
    listed = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type"))}
        for e in errors[:MAX_LISTED_ERRORS]
    ]
    more = len(errors) - len(listed)
    first = f"{'.'.join(str(p) for p in listed[0]['loc'])}: {listed[0]['msg']}" if listed else ""
    detail = f"{len(errors)} invalid field(s); first: {first}" if listed else "invalid request"
    if more:
        detail += f" (and {more} more, not listed)"
    return problem(422, "validation-error", detail, errors=listed)


def allowed_methods(request: Request) -> str:
    """The methods some route answers on this request's path (`Allow` of a 405)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    if "GET" in methods:
        methods.add("HEAD")  # the request middleware answers HEAD wherever GET works
    return ", ".join(sorted(methods))


def add_handlers(app: FastAPI, status_map: StatusMap) -> None:
    """Register the handlers for `status_map`'s classes, validation and HTTP errors."""
    full: dict[type[Exception], int] = {**KIT_STATUS, **status_map}

    async def on_domain(request: Request, exc: Exception) -> JSONResponse:
        body = domain_problem(exc, full)
        if body["status"] >= 500:
            log.warning("%s: %s", type(exc).__name__, exc)
        return problem_response(body, error_headers(exc, body["status"]))

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return problem_response(validation_problem(list(exc.errors())))

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        body = problem(exc.status_code, code_for_status(exc.status_code), str(exc.detail))
        headers = dict(exc.headers) if exc.headers else {}
        if exc.status_code == 405:  # every route of the path, not only the first one matched
            headers["Allow"] = allowed_methods(request)
        return problem_response(body, headers or None)

    roots = {cls for cls in full if not any(b in full for b in cls.__mro__[1:])}
    for cls in roots:
        app.add_exception_handler(cls, on_domain)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(HTTPException, on_http)
