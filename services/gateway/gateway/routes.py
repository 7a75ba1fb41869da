"""The proxy table: public prefix -> (upstream, upstream prefix). Pure: no I/O, no framework.

Matching is by whole path segments, so `/api/v1/spacesX` matches nothing. A path under no prefix
is a 404 `route-not-found`; under a prefix, `permissions.ROUTES` still decides whether it is let
through. The aggregator's `/v1/observations` (called by camera-ingest only) has no prefix here:
it is not public at all, and not in the merged OpenAPI either. The batch service's jobs are
under `/api/v1/batch` (admin only: the permission rows say so).
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.errors import BadPath, RouteNotFound

INGEST, CLASSIFIER, AGGREGATOR, BATCH = "camera-ingest", "classifier", "aggregator", "batch"
UPSTREAMS = (INGEST, CLASSIFIER, AGGREGATOR, BATCH)
EVENTS_PATH = "/api/v1/events"


@dataclass(frozen=True)
class Rule:
    public: str
    upstream: str
    target: str


RULES: tuple[Rule, ...] = (
    Rule("/api/v1/cameras", INGEST, "/v1/cameras"),
    Rule("/api/v1/frames", INGEST, "/v1/frames"),
    Rule("/api/v1/outbox", INGEST, "/v1/outbox"),
    Rule("/api/v1/spaces", AGGREGATOR, "/v1/spaces"),
    Rule("/api/v1/animals", AGGREGATOR, "/v1/animals"),
    Rule("/api/v1/summary", AGGREGATOR, "/v1/summary"),
    Rule("/api/v1/alerts", AGGREGATOR, "/v1/alerts"),
    Rule(EVENTS_PATH, AGGREGATOR, "/v1/events"),
    Rule("/api/v1/classifier", CLASSIFIER, "/v1"),
    Rule("/api/v2", CLASSIFIER, "/v2"),
    Rule("/api/v1/batch", BATCH, "/v1/batch"),
)


@dataclass(frozen=True)
class Target:
    rule: Rule
    path: str  # the upstream path, still percent-encoded as the client sent it


def _under(path: str, prefix: str) -> str | None:
    """The rest of `path` after `prefix` ('' or '/...'), or None when it is not under it."""
    if path == prefix:
        return ""
    if path.startswith(prefix + "/"):
        return path[len(prefix) :]
    return None


def check_path(path: str) -> None:
    segments = path.split("/")
    if any(s in (".", "..") for s in segments) or "\\" in path or "\x00" in path:
        raise BadPath(f"path {path!r} has dot segments or unsafe characters")


def resolve(path: str) -> Target:
    """Map a public path to its upstream path; raises RouteNotFound."""
    check_path(path)
    for rule in RULES:
        rest = _under(path, rule.public)
        if rest is not None:
            return Target(rule=rule, path=rule.target + rest)
    raise RouteNotFound(f"no route for {path}")


def public_path(upstream: str, path: str) -> str | None:
    """The public path of an upstream path (for Location and OpenAPI), or None if not exposed."""
    candidates = sorted((r for r in RULES if r.upstream == upstream), key=lambda r: -len(r.target))
    for rule in candidates:
        rest = _under(path, rule.target)
        if rest is not None and not (rule.target == "/v1" and upstream == CLASSIFIER and not rest):
            return rule.public + rest
    return None


def rewrite_location(upstream: str, location: str) -> str:
    """Rewrite a relative upstream Location (`/v1/frames/x`) to its public path; else keep it."""
    if not location.startswith("/") or location.startswith("//"):
        return location
    path, sep, query = location.partition("?")
    public = public_path(upstream, path)
    return location if public is None else public + sep + query
