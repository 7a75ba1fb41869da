"""One OpenAPI document for the whole public API.

`merge` is pure: it keeps only the upstream operations the gateway lets through (a public prefix
in `routes` AND a row in `permissions`: an upstream route without a row is not advertised, as it
is not proxied), rewritten to their public paths, each with `x-roles` (the roles that may call
it); prefixes an upstream's component with the service name where another document defines the
same name differently (the gateway's own components keep their names), tags every operation with
its service, marks the gateway's own public operations public (no key) and adds the API key
security schemes. `OpenApiCache` fetches the upstream documents with a
TTL and tolerates an upstream that is down (its paths are left out until it answers).
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Mapping
from typing import Any

import httpx

from gateway.permissions import documented, roles_allowed
from gateway.routes import public_path
from shelter_kit.context import outbound_headers
from shelter_kit.problems import problem_responses

log = logging.getLogger(__name__)
Doc = dict[str, Any]
SECURITY_SCHEMES: Doc = {
    "ApiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    "BearerAuth": {"type": "http", "scheme": "bearer"},
    # POST /api/v1/session sets it; the browser sends it (same origin), Swagger UI included
    "SessionCookie": {"type": "apiKey", "in": "cookie", "name": "sw_session"},
}
COMPONENT_KINDS = ("schemas", "responses", "parameters", "requestBodies", "headers", "examples")
# What the gateway itself may answer on a keyed route, and on a proxied one (documented on each)
KEYED_PROBLEMS = (401, 403, 429)
PROXY_PROBLEMS = (502, 503, 504)


def _colliding(docs: Mapping[str, Doc], kind: str) -> set[str]:
    """Names of `kind` components defined differently by two or more services."""
    seen: dict[str, Any] = {}
    clashes: set[str] = set()
    for doc in docs.values():
        for name, body in doc.get("components", {}).get(kind, {}).items():
            if name in seen and seen[name] != body:
                clashes.add(name)
            seen.setdefault(name, body)
    return clashes


def _rename_refs(node: Any, renames: Mapping[str, str]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref in renames:
            return {**{k: _rename_refs(v, renames) for k, v in node.items()}, "$ref": renames[ref]}
        return {k: _rename_refs(v, renames) for k, v in node.items()}
    if isinstance(node, list):
        return [_rename_refs(v, renames) for v in node]
    return node


def _service_prefix(service: str) -> str:
    return "".join(part.capitalize() for part in service.split("-"))


def merge(own: Doc, upstream_docs: Mapping[str, Doc]) -> Doc:
    """The public document: `own` (the gateway's routes) plus every upstream's exposed paths."""
    merged = copy.deepcopy(own)
    paths: Doc = merged.setdefault("paths", {})
    for path, item in list(paths.items()):
        if path.startswith("/api/"):  # the key store: admin keys only
            paths[path] = _with_roles(path, item)
            continue
        for operation in item.values():  # /healthz, /readyz, /metrics, ...: no key
            if isinstance(operation, dict) and "responses" in operation:
                operation["security"] = []
    components: Doc = merged.setdefault("components", {})
    every = {"gateway": own, **upstream_docs}
    clashes = {kind: _colliding(every, kind) for kind in COMPONENT_KINDS}
    for service, doc in upstream_docs.items():
        renames = {
            f"#/components/{kind}/{name}": f"#/components/{kind}/{_service_prefix(service)}{name}"
            for kind in COMPONENT_KINDS
            for name in clashes[kind]
        }
        doc = _rename_refs(doc, renames)
        for kind in COMPONENT_KINDS:
            for name, body in doc.get("components", {}).get(kind, {}).items():
                new = f"{_service_prefix(service)}{name}" if name in clashes[kind] else name
                components.setdefault(kind, {}).setdefault(new, body)
        for path, item in doc.get("paths", {}).items():
            public = public_path(service, path)
            kept = (
                _with_roles(public, _tag_operations(service, item), PROXY_PROBLEMS)
                if public
                else None
            )
            if public and kept:
                paths[public] = kept
    components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    merged["security"] = [{"ApiKeyHeader": []}, {"BearerAuth": []}, {"SessionCookie": []}]
    merged["openapi"] = own.get("openapi", "3.1.0")
    return merged


def _tag_operations(service: str, item: Doc) -> Doc:
    out: Doc = {}
    for method, operation in item.items():
        if isinstance(operation, dict) and "responses" in operation:
            operation = {**operation, "tags": [service]}
            if "operationId" in operation:
                operation["operationId"] = f"{service}_{operation['operationId']}"
        out[method] = operation
    return out


def _with_roles(path: str, item: Doc, proxied: tuple[int, ...] = ()) -> Doc:
    """The operations of `item` that a permission row lets through, each with its roles, the
    problems the gateway adds (no key, wrong role, rate limit; `proxied`: the upstream failed)
    and the path's shared members, such as `parameters`; {} when none is let through."""
    out: Doc = {}
    shared: Doc = {}
    for method, operation in item.items():
        if not (isinstance(operation, dict) and "responses" in operation):
            shared[method] = operation
            continue
        route = documented(method, path)
        if route is not None:
            answers = {str(k): v for k, v in problem_responses(*KEYED_PROBLEMS, *proxied).items()}
            responses = {**answers, **operation["responses"]}
            roles = [r.value for r in roles_allowed(route)]
            out[method] = {**operation, "responses": responses, "x-roles": roles}
    return {**shared, **out} if out else {}


class OpenApiCache:
    """Upstream OpenAPI documents, fetched concurrently and kept for `ttl_s` seconds."""

    def __init__(
        self, client: httpx.AsyncClient, urls: Mapping[str, str], *, ttl_s: float, timeout_s: float
    ) -> None:
        self._client = client
        self._urls = urls
        self._ttl = ttl_s
        self._timeout = timeout_s
        self._docs: dict[str, tuple[float, Doc]] = {}

    async def documents(self) -> dict[str, Doc]:
        now = time.monotonic()
        stale = [n for n in self._urls if n not in self._docs or now - self._docs[n][0] > self._ttl]
        fetched = await asyncio.gather(*(self._fetch(n) for n in stale))
        for name, doc in zip(stale, fetched, strict=True):
            if doc is not None:
                self._docs[name] = (now, doc)
        return {name: entry[1] for name, entry in self._docs.items()}

    async def _fetch(self, name: str) -> Doc | None:
        url, headers = f"{self._urls[name]}/openapi.json", outbound_headers()
        try:
            response = await self._client.get(url, timeout=self._timeout, headers=headers)
            response.raise_for_status()
            doc = response.json()
        except (httpx.HTTPError, ValueError) as exc:  # the type only: a message may hold the URL
            log.warning("openapi of %s unavailable (%s)", name, type(exc).__name__)
            return None
        return doc if isinstance(doc, dict) else None
