"""`install()`: the kit on one FastAPI app, the same way in every service's `create_app`.

    app = FastAPI(title="camera-ingest", version="1", lifespan=lifespan)
    http = install(app, service="camera-ingest", status_map=ERROR_STATUS, registry=registry,
                   checks=lambda: {"redis": ...})

adds the request middleware (ids, metrics, HEAD, catch-all 500), the problem handlers, the ops
routes, the `Problem` schema in the OpenAPI components, and Swagger UI from local files at
`/docs` (docs.py: no CDN); returns the HTTP metrics.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from shelter_kit.bodylimit import DEFAULT_MAX_BYTES, BodyLimit, capped
from shelter_kit.context import ProblemExtension
from shelter_kit.deps import PartNotReady
from shelter_kit.docs import offline_docs
from shelter_kit.handlers import StatusMap, add_handlers
from shelter_kit.metrics import HttpMetrics
from shelter_kit.middleware import RequestContextMiddleware
from shelter_kit.ops import Check, Refresh, ops_router
from shelter_kit.problems import Problem, problem_responses


def install(
    app: FastAPI,
    *,
    status_map: StatusMap,
    registry: CollectorRegistry,
    checks: Callable[[], Mapping[str, Check]] | None = None,
    refresh: Refresh | None = None,
    ops_routes: bool = True,
    edge: bool = False,
    extend_problem: ProblemExtension | None = None,
    max_body_bytes: int = DEFAULT_MAX_BYTES,
) -> HttpMetrics:
    """`edge=True` for the public door (the gateway): a client's X-Forwarded-Uri is not trusted.
    `extend_problem(path, body)` returns members to add to every problem the app answers (the
    classifier's /v2 problems also carry `error`, which Triton's clients read).
    `max_body_bytes` caps the bodies routes read whole (JSON, forms, text: `bodylimit`)."""
    http_metrics = HttpMetrics(registry)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)  # inside the request context
    app.add_middleware(
        RequestContextMiddleware,
        metrics=http_metrics,
        trust_forwarded_uri=not edge,
        extend_problem=extend_problem,
    )
    add_handlers(app, {PartNotReady: 503, **status_map})
    if ops_routes:
        app.include_router(
            ops_router(registry=registry, checks=checks or (lambda: {}), refresh=refresh)
        )
    _document_problem(app)
    offline_docs(app)
    return http_metrics


def _document_problem(app: FastAPI) -> None:
    """Put the `Problem` schema in the document (`problem_responses` entries reference it), and
    document FastAPI's default 422 as what the kit really answers: problem+json."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components["Problem"] = Problem.model_json_schema()
            _problem_422s(schema)
            _common_problems(schema)
            for unused in ("HTTPValidationError", "ValidationError"):
                if unused not in json.dumps(schema["paths"]):
                    components.pop(unused, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _problem_422s(schema: dict[str, Any]) -> None:
    problem_422 = problem_responses(422)[422]
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {}) if isinstance(operation, dict) else {}
            entry = responses.get("422")
            if entry and "HTTPValidationError" in json.dumps(entry):
                responses["422"] = dict(problem_422)


NO_PROBLEMS = frozenset({"/healthz", "/metrics"})  # no I/O: always 200


def _common_problems(schema: dict[str, Any]) -> None:
    """Document the problems the kit itself answers on every route, so that the documents say
    what the routes really answer: 400 (a body that is not text), 413 (over `max_body_bytes`)
    and 422 where a route reads a body or parameters, 503 (a part not ready, Redis down) on every
    route that does I/O, 405 nowhere (it is the answer for a method a path does not list)."""
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            statuses: list[int] = [] if path in NO_PROBLEMS else [503]
            body = operation.get("requestBody", {}).get("content", {})
            if any(capped(kind) for kind in body):
                statuses += [400, 413, 422]
            elif body:
                statuses += [413, 415, 422]
            if operation.get("parameters"):
                statuses.append(422)
            responses = operation["responses"]
            for status, entry in problem_responses(*statuses).items():
                responses.setdefault(str(status), entry)
