"""Pure pieces: the proxy table, the permission table's matching, key shapes, the schemas, the
in-memory token bucket, the circuit breaker, the OpenAPI filter."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from gateway.auth import (
    SESSION_COOKIE,
    Credential,
    Via,
    check_csrf,
    presented,
    presented_key,
    refuse_key_in_query,
)
from gateway.breaker import CircuitBreaker
from gateway.config import Limit, Settings
from gateway.errors import (
    CsrfHeaderMissing,
    KeyInUrl,
    RateLimited,
    RouteNotFound,
    UpstreamCircuitOpen,
)
from gateway.keys import KeyRecord, digest, looks_like_secret, new_secret
from gateway.main import redacted
from gateway.openapi import merge
from gateway.permissions import ROUTES, Kind, Permission, Role, allows, documented, match
from gateway.ratelimit import MemoryBuckets
from gateway.routes import public_path, resolve, rewrite_location
from gateway.schemas import KeyIn


def test_resolve_matches_whole_segments():
    assert resolve("/api/v1/summary").path == "/v1/summary"
    with pytest.raises(RouteNotFound):
        resolve("/api/v1/summaryX")
    with pytest.raises(RouteNotFound):  # internal: not public at all
        resolve("/api/v1/observations")


@pytest.mark.parametrize(
    ("upstream", "location", "public"),
    [
        ("camera-ingest", "/v1/frames/x", "/api/v1/frames/x"),
        ("camera-ingest", "/v1/frames/x?y=1", "/api/v1/frames/x?y=1"),
        ("classifier", "/v1/predictions/p", "/api/v1/classifier/predictions/p"),
        ("classifier", "/v2/models/m", "/api/v2/models/m"),
        ("aggregator", "/v1/secret", "/v1/secret"),  # not exposed: left alone
        ("aggregator", "/v1/observations", "/v1/observations"),
        ("aggregator", "http://elsewhere/v1/spaces", "http://elsewhere/v1/spaces"),
        ("batch", "/v1/batch/jobs/4f0c", "/api/v1/batch/jobs/4f0c"),  # the 202's Location
        ("batch", "/v1/batchX", "/v1/batchX"),
    ],
)
def test_rewrite_location(upstream, location, public):
    assert rewrite_location(upstream, location) == public


def test_batch_rows_have_the_kinds_of_what_they_carry():
    profiles = Settings(redis_url=SecretStr("redis://x")).profiles()
    assert profiles[Kind.UPLOAD].max_body_bytes == 512 * 1024 * 1024  # BATCH_MAX_UPLOAD_BYTES
    assert profiles[Kind.UPLOAD].max_body_bytes > profiles[Kind.MODEL].max_body_bytes
    assert not profiles[Kind.UPLOAD].stream
    kinds = {(m, p): found[0].kind for m, p in [
        ("POST", "/api/v1/batch/jobs"), ("GET", "/api/v1/batch/jobs"),
        ("GET", "/api/v1/batch/jobs/j1"), ("POST", "/api/v1/batch/jobs/j1/cancel"),
        ("GET", "/api/v1/batch/jobs/j1/events"), ("GET", "/api/v1/batch/jobs/j1/results"),
    ] if (found := match(m, p))}  # fmt: skip
    assert kinds == {
        ("POST", "/api/v1/batch/jobs"): Kind.UPLOAD,  # an archive or JSON: the upload limit
        ("GET", "/api/v1/batch/jobs"): Kind.READ,
        ("GET", "/api/v1/batch/jobs/j1"): Kind.READ,
        ("POST", "/api/v1/batch/jobs/j1/cancel"): Kind.JSON,
        ("GET", "/api/v1/batch/jobs/j1/events"): Kind.STREAM,  # SSE: no read timeout
        ("GET", "/api/v1/batch/jobs/j1/results"): Kind.READ,  # per-chunk timeout, see test_upstream
    }


def test_public_path_none_for_unexposed():
    assert public_path("aggregator", "/healthz") is None
    assert public_path("aggregator", "/v1/observations/batch") is None
    assert public_path("classifier", "/v1") is None


def test_match_by_segments_with_decoded_parameters():
    route, params = match("PUT", "/api/v1/cameras/cam%2D1/frame") or (None, {})
    assert route is not None
    assert (route.permission, params) == (Permission.PUSH_FRAMES, {"camera_id": "cam-1"})
    assert match("HEAD", "/api/v1/spaces/k1") == match("GET", "/api/v1/spaces/k1")
    assert match("GET", "/api/v1/spaces/") is None  # an empty segment is no id
    assert match("GET", "/api/v1/spaces/k1/extra") is None
    assert match("OPTIONS", "/api/v1/spaces") is None


def test_a_literal_segment_wins_over_a_parameter():
    archive = match("GET", "/api/v1/frames/archive")
    assert archive is not None
    assert (archive[0].pattern, archive[0].permission) == (
        "/api/v1/frames/archive",
        Permission.ADMIN,
    )
    one = match("GET", "/api/v1/frames/f-1")
    assert one is not None
    assert one[0].pattern == "/api/v1/frames/{frame_id}"


def test_camera_grants_are_bound_to_the_key_cameras():
    route, params = match("PUT", "/api/v1/cameras/cam-1/frame") or (None, {})
    assert route is not None
    assert allows(Role.CAMERA, frozenset({"cam-1", "cam-9"}), route, params)
    assert not allows(Role.CAMERA, frozenset({"cam-2"}), route, params)
    assert allows(Role.ADMIN, frozenset(), route, params)
    assert not allows(Role.STAFF, frozenset(), route, params)
    listing, none = match("GET", "/api/v1/cameras") or (None, {})
    assert listing is not None
    assert not allows(Role.CAMERA, frozenset({"cam-1"}), listing, none)  # no {camera_id}


def test_rows_are_unique_and_bound_grants_name_a_camera():
    assert len({(r.method, r.pattern) for r in ROUTES}) == len(ROUTES)
    bound = {Permission.PUSH_FRAMES, Permission.READ_CAMERA}
    for route in ROUTES:
        if route.permission in bound:
            assert "{camera_id}" in route.pattern, route


def test_documented_matches_templates_whatever_the_parameter_names():
    route = documented("get", "/api/v1/spaces/{id}")
    assert route is not None
    assert route.pattern == "/api/v1/spaces/{space_id}"
    assert documented("post", "/api/v1/spaces/{id}") is None


def test_merge_leaves_out_operations_without_a_row():
    doc: dict[str, Any] = {"paths": {"/v1/spaces/{space_id}": {
        "get": {"responses": {}}, "delete": {"responses": {}}}}}  # fmt: skip
    merged = merge({"paths": {}}, {"aggregator": doc})
    item = merged["paths"]["/api/v1/spaces/{space_id}"]
    assert set(item) == {"get"}
    assert item["get"]["x-roles"] == ["viewer", "staff", "admin"]


def test_secrets_are_random_long_and_shaped():
    secrets = {new_secret() for _ in range(100)}
    assert len(secrets) == 100
    assert all(looks_like_secret(s) and len(s) == 35 for s in secrets)
    assert not looks_like_secret("dev-admin-key")
    assert digest("a") == digest("a") != digest("b")
    assert len(digest("a")) == 64


def test_key_record_round_trips_and_hides_its_hash():
    record = KeyRecord("key_0123456789abcdef", Role.CAMERA, ("c1",), "door", 10.0, 20.0, None,
                       digest("s"))  # fmt: skip
    assert KeyRecord.from_json(record.to_json()) == record
    assert digest("s") not in repr(record)
    assert not record.expired(19.9)
    assert record.expired(20.0)


@pytest.mark.parametrize("body", [
    {"role": "camera"},
    {"role": "viewer", "cameras": ["c1"]},
    {"role": "root"},
    {"role": "camera", "cameras": ["../x"]},
    {"role": "viewer", "expires_in_s": 0},
    {"role": "viewer", "extra": 1},
])  # fmt: skip
def test_key_in_refuses(body):
    with pytest.raises(ValidationError):
        KeyIn.model_validate(body)


def test_presented_key_order():
    assert presented_key({"x-api-key": "a", "authorization": "Bearer b"}) == "a"
    assert presented_key({"authorization": "Bearer b"}) == "b"
    assert presented_key({"authorization": "Basic b"}) is None
    assert presented_key({}) is None


def test_a_header_key_wins_over_the_session_cookie():
    cookies = {SESSION_COOKIE: "c"}
    assert presented({"x-api-key": "a"}, cookies) == Credential(Via.KEY, "a")
    assert presented({}, cookies) == Credential(Via.SESSION, "c")
    assert presented({}, {SESSION_COOKIE: " "}) is None
    assert "c" not in repr(Credential(Via.SESSION, "c-secret-value"))


@pytest.mark.parametrize("query", ["api_key=k", "x=1&api_key=", "api_key"])
def test_a_key_in_the_query_is_refused(query):
    with pytest.raises(KeyInUrl):
        refuse_key_in_query(query)


def test_other_queries_pass():
    refuse_key_in_query("x=1&not_api_key=2&echo=api_key")


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_csrf_header_needed_on_unsafe_methods(method):
    with pytest.raises(CsrfHeaderMissing):
        check_csrf(method, {})
    with pytest.raises(CsrfHeaderMissing):
        check_csrf(method, {"x-requested-with": "XMLHttpRequest"})
    check_csrf(method, {"x-requested-with": "shelter-watch"})
    check_csrf("GET", {})


def test_redacted_urls_hold_no_credentials():
    assert redacted("redis://:pw@redis:6379/2") == "redis://redis:6379/2"
    assert redacted("http://user:pass@camera:8001/x") == "http://camera:8001/x"


def test_empty_bootstrap_key_is_none():
    settings = Settings(redis_url=SecretStr("redis://x"), bootstrap_admin_key=SecretStr(" "))
    assert settings.bootstrap_admin_key is None


@pytest.mark.anyio
async def test_memory_bucket_refills_with_time():
    now = [0.0]
    buckets = MemoryBuckets(clock=lambda: now[0])
    limit = Limit(rate=2.0, burst=2)
    assert (await buckets.take("k", limit, cost=1))[0]
    assert (await buckets.take("k", limit, cost=0))[0]  # a look costs nothing
    assert (await buckets.take("k", limit, cost=1))[0]
    allowed, wait = await buckets.take("k", limit, cost=1)
    assert not allowed
    assert wait == pytest.approx(0.5)
    assert (await buckets.take("other", limit, cost=1))[0]  # per bucket
    now[0] = 0.5
    assert (await buckets.take("k", limit, cost=1))[0]


@pytest.mark.parametrize(("wait_s", "told"), [(0.001, 1), (1.0, 1), (1.2, 2), (59.5, 60)])
def test_rate_limited_tells_whole_seconds_in_detail_and_attribute(wait_s, told):
    error = RateLimited(wait_s)
    assert error.retry_after_s == told
    assert str(error) == f"rate limit exceeded; retry after {told}s"


def test_breaker_opens_half_opens_and_closes():
    now = [0.0]
    changes: list[str] = []
    breaker = CircuitBreaker("classifier", failures=2, reset_s=10, clock=lambda: now[0],
                             on_change=lambda upstream, state: changes.append(state))  # fmt: skip
    breaker.admit()
    breaker.failure()
    breaker.admit()
    breaker.failure()  # the second in a row: open
    now[0] = 4.0
    with pytest.raises(UpstreamCircuitOpen) as info:
        breaker.admit()
    assert info.value.retry_after_s == 6
    assert "retry after 6s" in str(info.value)
    now[0] = 10.0
    breaker.admit()  # half-open: one trial
    with pytest.raises(UpstreamCircuitOpen):
        breaker.admit()  # the others wait for it
    breaker.failure()  # the trial failed: open again, for another reset_s
    with pytest.raises(UpstreamCircuitOpen):
        breaker.admit()
    now[0] = 20.0
    breaker.admit()
    breaker.success()
    breaker.admit()
    assert breaker.state == "closed"
    assert changes == ["open", "open", "closed"]


def test_breaker_counts_only_failures_in_a_row():
    breaker = CircuitBreaker("aggregator", failures=2, reset_s=10)
    for _ in range(5):
        breaker.admit()
        breaker.failure()
        breaker.admit()
        breaker.success()
    assert breaker.state == "closed"
