"""`install()`: the kit on one FastAPI app, the same way in every service's `create_app`.

    app = FastAPI(title="camera-ingest", version="1", lifespan=lifespan)
    http = install(app, service="camera-ingest", status_map=ERROR_STATUS, registry=registry,
                   checks=lambda: {"redis": ...})

adds the request middleware (ids, metrics, HEAD, catch-all 500), the problem handlers, the ops
routes, and the `Problem` schema in the OpenAPI components; returns the HTTP metrics.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from shelter_kit.context import ProblemExtension
from shelter_kit.deps import PartNotReady
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
) -> HttpMetrics:
    """`edge=True` for the public door (the gateway): a client's X-Forwarded-Uri is not trusted.
    `extend_problem(path, body)` returns members to add to every problem the app answers (the
    classifier's /v2 problems also carry `error`, which Triton's clients read)."""
    http_metrics = HttpMetrics(registry)
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
