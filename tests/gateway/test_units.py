"""Pure pieces: the route table, key parsing, the token bucket, the OpenAPI merge."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from gateway.auth import StaticKeyStore, parse_api_keys, required_scopes, split_query_key
from gateway.config import Settings
from gateway.errors import ConfigError, RateLimited, RouteNotFound
from gateway.main import create_app
from gateway.ratelimit import TokenBucketLimiter
from gateway.routes import public_path, resolve, rewrite_location


def test_resolve_matches_whole_segments():
    assert resolve("/api/v1/summary").path == "/v1/summary"
    with pytest.raises(RouteNotFound):
        resolve("/api/v1/summaryX")


@pytest.mark.parametrize(
    ("upstream", "location", "public"),
    [
        ("camera-ingest", "/v1/frames/x", "/api/v1/frames/x"),
        ("camera-ingest", "/v1/frames/x?y=1", "/api/v1/frames/x?y=1"),
        ("classifier", "/v1/predictions/p", "/api/v1/classifier/predictions/p"),
        ("classifier", "/v2/models/m", "/api/v2/models/m"),
        ("aggregator", "/v1/secret", "/v1/secret"),  # not exposed: left alone
        ("aggregator", "http://elsewhere/v1/spaces", "http://elsewhere/v1/spaces"),
    ],
)
def test_rewrite_location(upstream, location, public):
    assert rewrite_location(upstream, location) == public


def test_public_path_none_for_unexposed():
    assert public_path("aggregator", "/healthz") is None
    assert public_path("classifier", "/v1") is None


@pytest.mark.parametrize("raw", ["", "a:b", "a:b:read:x", "a::read", "a:b:fly", "a:b:read+fly"])
def test_bad_key_entries_are_refused_without_echoing_the_key(raw):
    with pytest.raises(ConfigError) as info:
        parse_api_keys(raw)
    assert ":b:" not in str(info.value)


def test_create_app_fails_fast_on_bad_keys():
    with pytest.raises(ConfigError):
        create_app(Settings(api_keys=SecretStr("broken")))


@pytest.mark.anyio
async def test_key_store_lookup():
    store = StaticKeyStore(parse_api_keys("a:k1:read, b:k2:write+camera"))
    found = await store.lookup("k2")
    assert found is not None
    assert (found.name, found.scopes) == ("b", frozenset({"write", "camera"}))
    assert await store.lookup("k3") is None
    assert "k2" not in repr(found)


def test_required_scopes():
    assert "camera" in required_scopes("PUT", "/api/v1/cameras/c/frame")
    assert "camera" not in required_scopes("POST", "/api/v1/cameras/c/frame")
    assert required_scopes("GET", "/api/v1/spaces") == {"read", "admin"}


def test_split_query_key():
    assert split_query_key("api_key=k&x=1", allowed=True) == ("k", "x=1")
    assert split_query_key("api_key=k&x=1", allowed=False) == (None, "api_key=k&x=1")


@pytest.mark.anyio
async def test_token_bucket_refills_with_time():
    now = [0.0]
    limiter = TokenBucketLimiter(rate=2.0, burst=2, clock=lambda: now[0])
    await limiter.acquire("k")
    await limiter.acquire("k")
    with pytest.raises(RateLimited) as info:
        await limiter.acquire("k")
    assert info.value.wait_s == pytest.approx(0.5)
    assert info.value.retry_after_s == 1
    await limiter.acquire("other")  # per key
    now[0] = 0.5
    await limiter.acquire("k")


@pytest.mark.parametrize(("wait_s", "told"), [(0.001, 1), (1.0, 1), (1.2, 2), (59.5, 60)])
def test_rate_limited_tells_whole_seconds_in_detail_and_attribute(wait_s, told):
    error = RateLimited(wait_s)
    assert error.retry_after_s == told
    assert str(error) == f"rate limit exceeded; retry after {told}s"
