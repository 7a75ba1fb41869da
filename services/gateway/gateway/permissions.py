"""Who may call what: the public routes as one declarative table, and each role as a set of
permissions. Pure: no I/O, no framework. docs/security.md shows the same table.

A row is `method + public path pattern -> permission`, plus the route's `Kind`, which sets its
body limit and upstream timeout (`config.Settings.profiles`). A pattern's `{name}` matches one
non-empty path segment, as the client sent it (still percent-encoded); a literal segment wins
over a parameter. HEAD is allowed wherever GET is. A request that no row matches is refused (403
for a known key): nothing reaches an upstream unless a row lets it, so a new upstream route is
closed until someone adds its row.

A role grants permissions either everywhere (`ANY`) or only on the camera ids bound to the key
(`BOUND`: the row's `{camera_id}` must be one of them); a bound grant on a row without a
`{camera_id}` never matches.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import unquote


class Permission(StrEnum):
    PUSH_FRAMES = "frames:push"
    READ_CAMERA = "cameras:read"
    READ = "shelter:read"
    EDIT_ANIMALS = "animals:write"
    ACK_ALERTS = "alerts:ack"
    FEEDBACK = "predictions:feedback"
    CLASSIFY = "photos:classify"
    ADMIN = "admin"


class Kind(StrEnum):
    """What a route carries: its body limit and upstream timeout come from settings per kind."""

    READ = "read"  # GET/HEAD
    STREAM = "stream"  # server-sent events: no read timeout
    JSON = "json"  # a small JSON body
    FRAME = "frame"  # one image
    MODEL = "model"  # large uploads: image batches, inference tensors, model versions
    UPLOAD = "upload"  # batch jobs: an archive of images (or the job as JSON), a long wait


class Role(StrEnum):
    CAMERA = "camera"
    VIEWER = "viewer"
    STAFF = "staff"
    ADMIN = "admin"


ANY, BOUND = "any", "bound"
CAMERA_PARAM = "camera_id"

_VIEWER = {Permission.READ: ANY, Permission.READ_CAMERA: ANY}
ROLES: dict[Role, dict[Permission, str]] = {
    Role.CAMERA: {Permission.PUSH_FRAMES: BOUND, Permission.READ_CAMERA: BOUND},
    Role.VIEWER: _VIEWER,
    Role.STAFF: {
        **_VIEWER,
        Permission.EDIT_ANIMALS: ANY,
        Permission.ACK_ALERTS: ANY,
        Permission.FEEDBACK: ANY,
        Permission.CLASSIFY: ANY,
    },
    Role.ADMIN: dict.fromkeys(Permission, ANY),
}


@dataclass(frozen=True)
class Route:
    method: str
    pattern: str
    permission: Permission
    kind: Kind = Kind.READ
    own: bool = False  # answered by the gateway itself (not proxied)

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(self.pattern.split("/"))

    def params(self, method: str, raw_path: str) -> dict[str, str] | None:
        """The pattern's parameters (percent-decoded) when `method raw_path` is this route."""
        wanted = "GET" if method == "HEAD" else method
        parts = raw_path.split("/")
        if wanted != self.method or len(parts) != len(self.segments):
            return None
        found: dict[str, str] = {}
        for pattern, part in zip(self.segments, parts, strict=True):
            if pattern.startswith("{") and pattern.endswith("}"):
                if not part:
                    return None
                found[pattern[1:-1]] = unquote(part)
            elif pattern != part:
                return None
        return found


R, P, K = Route, Permission, Kind
ROUTES: tuple[Route, ...] = (
    # camera-ingest
    R("PUT", "/api/v1/cameras/{camera_id}/frame", P.PUSH_FRAMES, K.FRAME),
    R("GET", "/api/v1/cameras/{camera_id}", P.READ_CAMERA),
    R("GET", "/api/v1/cameras", P.READ),
    R("POST", "/api/v1/cameras", P.ADMIN, K.JSON),
    R("PUT", "/api/v1/cameras/{camera_id}", P.ADMIN, K.JSON),
    R("PATCH", "/api/v1/cameras/{camera_id}", P.ADMIN, K.JSON),
    R("DELETE", "/api/v1/cameras/{camera_id}", P.ADMIN, K.JSON),
    R("GET", "/api/v1/cameras/{camera_id}/latest", P.READ),  # its newest frame's image
    R("GET", "/api/v1/cameras/{camera_id}/latest.jpg", P.READ),
    R("GET", "/api/v1/frames/{frame_id}", P.READ),
    R("GET", "/api/v1/frames/{frame_id}/image", P.READ),
    R("GET", "/api/v1/frames", P.ADMIN),  # the outbox's records, dead letters included
    R("GET", "/api/v1/frames/archive", P.ADMIN),  # delivered frames in bulk (for replays)
    R("POST", "/api/v1/frames/redrive", P.ADMIN, K.JSON),
    R("POST", "/api/v1/frames/{frame_id}/redrive", P.ADMIN, K.JSON),
    R("GET", "/api/v1/outbox", P.ADMIN),
    # aggregator (its /v1/observations are internal: no public route at all)
    R("GET", "/api/v1/spaces", P.READ),
    R("GET", "/api/v1/spaces/{space_id}", P.READ),
    R("GET", "/api/v1/spaces/{space_id}/history", P.READ),
    R("GET", "/api/v1/spaces/{space_id}/frames", P.READ),  # its recent observations
    R("GET", "/api/v1/summary", P.READ),
    R("GET", "/api/v1/animals", P.READ),
    R("GET", "/api/v1/animals/{animal_id}", P.READ),
    R("POST", "/api/v1/animals", P.EDIT_ANIMALS, K.JSON),
    R("PUT", "/api/v1/animals/{animal_id}", P.EDIT_ANIMALS, K.JSON),
    R("PATCH", "/api/v1/animals/{animal_id}", P.EDIT_ANIMALS, K.JSON),  # status moves too
    R("DELETE", "/api/v1/animals/{animal_id}", P.ADMIN, K.JSON),
    R("GET", "/api/v1/alerts", P.READ),
    R("POST", "/api/v1/alerts/{alert_id}/ack", P.ACK_ALERTS, K.JSON),
    R("GET", "/api/v1/events", P.READ, K.STREAM),
    # classifier, v1
    R("GET", "/api/v1/classifier/models", P.READ),
    R("GET", "/api/v1/classifier/models/{name}", P.READ),
    R("GET", "/api/v1/classifier/models/{name}/versions", P.READ),
    R("GET", "/api/v1/classifier/models/{name}/versions/{version}", P.READ),
    R("PUT", "/api/v1/classifier/models/{name}/versions/{version}", P.ADMIN, K.MODEL),  # upload
    R("DELETE", "/api/v1/classifier/models/{name}/versions/{version}", P.ADMIN, K.JSON),
    R("POST", "/api/v1/classifier/predict", P.CLASSIFY, K.FRAME),
    R("POST", "/api/v1/classifier/predict/batch", P.ADMIN, K.MODEL),
    R("POST", "/api/v1/classifier/feedback", P.FEEDBACK, K.JSON),
    R("GET", "/api/v1/classifier/deployment", P.ADMIN),
    R("PUT", "/api/v1/classifier/deployment", P.ADMIN, K.JSON),
    R("POST", "/api/v1/classifier/deployment/promote", P.ADMIN, K.JSON),
    R("POST", "/api/v1/classifier/deployment/rollback", P.ADMIN, K.JSON),
    R("GET", "/api/v1/classifier/deployment/history", P.ADMIN),
    # classifier, Open Inference Protocol v2
    R("GET", "/api/v2", P.READ),
    R("GET", "/api/v2/health/live", P.READ),
    R("GET", "/api/v2/health/ready", P.READ),
    R("GET", "/api/v2/models/{name}", P.READ),
    R("GET", "/api/v2/models/{name}/ready", P.READ),
    R("GET", "/api/v2/models/{name}/versions/{version}", P.READ),
    R("GET", "/api/v2/models/{name}/versions/{version}/ready", P.READ),
    R("POST", "/api/v2/models/{name}/infer", P.CLASSIFY, K.MODEL),
    R("POST", "/api/v2/models/{name}/versions/{version}/infer", P.CLASSIFY, K.MODEL),
    # batch (an archive, or a JSON job, on the one route: the upload kind's limit for both)
    R("POST", "/api/v1/batch/jobs", P.ADMIN, K.UPLOAD),
    R("GET", "/api/v1/batch/jobs", P.ADMIN),
    R("GET", "/api/v1/batch/jobs/{job_id}", P.ADMIN),
    R("POST", "/api/v1/batch/jobs/{job_id}/cancel", P.ADMIN, K.JSON),
    R("GET", "/api/v1/batch/jobs/{job_id}/events", P.ADMIN, K.STREAM),
    # a streamed download: the read timeout bounds each wait for the next chunk, not the whole
    R("GET", "/api/v1/batch/jobs/{job_id}/results", P.ADMIN),
    # the gateway's own key store
    R("GET", "/api/v1/keys", P.ADMIN, own=True),
    R("POST", "/api/v1/keys", P.ADMIN, K.JSON, own=True),
    R("GET", "/api/v1/keys/{key_id}", P.ADMIN, own=True),
    R("DELETE", "/api/v1/keys/{key_id}", P.ADMIN, K.JSON, own=True),
    R("POST", "/api/v1/keys/{key_id}/rotate", P.ADMIN, K.JSON, own=True),
    # sign-in sessions (POST: the key or link is in the body, not a header; camera keys are
    # refused, as they have no READ: a device has no use for a browser session) and viewer links
    R("POST", "/api/v1/session", P.READ, K.JSON, own=True),
    R("GET", "/api/v1/session", P.READ, own=True),
    R("DELETE", "/api/v1/session", P.READ, K.JSON, own=True),
    R("GET", "/api/v1/links", P.ADMIN, own=True),
    R("POST", "/api/v1/links", P.ADMIN, K.JSON, own=True),
    R("DELETE", "/api/v1/links/{link_id}", P.ADMIN, K.JSON, own=True),
)


def _literalness(route: Route) -> list[bool]:
    """A sort key: which segments are parameters (fewer and later is more literal)."""
    return [s.startswith("{") for s in route.segments]


def match(method: str, raw_path: str) -> tuple[Route, dict[str, str]] | None:
    """The row for `method raw_path` and its parameters, or None (refused). Where two rows
    match, the more literal one wins (`/frames/archive` over `/frames/{frame_id}`), whatever
    their order in the table."""
    found = [(r, p) for r in ROUTES if (p := r.params(method, raw_path)) is not None]
    if not found:
        return None
    return min(found, key=lambda rp: _literalness(rp[0]))


def methods_at(raw_path: str) -> list[str]:
    """The methods some row answers on `raw_path` (the `Allow` of a 405), HEAD wherever GET."""
    rows = [r for r in ROUTES if r.params(r.method, raw_path) is not None]
    if not rows:
        return []
    best = min(_literalness(r) for r in rows)  # as in `match`: the more literal pattern wins
    found = {r.method for r in rows if _literalness(r) == best}
    if "GET" in found:
        found.add("HEAD")
    return sorted(found)


def documented(method: str, template: str) -> Route | None:
    """The row of an OpenAPI operation (`get`, `/api/v1/spaces/{space_id}`), or None."""
    wanted = tuple("{}" if p.startswith("{") else p for p in template.split("/"))
    for route in ROUTES:
        mine = tuple("{}" if p.startswith("{") else p for p in route.segments)
        if route.method == method.upper() and mine == wanted:
            return route
    return None


def allows(role: Role, cameras: frozenset[str], route: Route, params: dict[str, str]) -> bool:
    """Whether a key of `role` bound to `cameras` may call `route` with these parameters."""
    scope = ROLES[role].get(route.permission)
    if scope == ANY:
        return True
    return scope == BOUND and params.get(CAMERA_PARAM) in cameras


def roles_allowed(route: Route) -> list[Role]:
    """The roles any of whose keys may call `route` (bound roles on their own cameras only)."""
    return [role for role, grants in ROLES.items() if route.permission in grants]
