"""Redis down: the gateway keeps serving on its per-process fallback (limits per process, keys it
verified lately), says so in /readyz (200, `"redis": "degraded: ..."`) and its metrics, refuses
what it cannot do (key administration, a key it never saw: 503, not 401), and returns to the
shared store once Redis is back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from tests.gateway.conftest import ADMIN, GatewayFactory, assert_problem, issue
from tests.servers import RedisServer, eventually

pytestmark = pytest.mark.slow


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis", persist=True).start()  # keys survive a restart
    yield server
    server.stop()


def redis_check(url: str) -> str:
    response = httpx.get(url + "/readyz", timeout=10)
    assert response.status_code == 200, response.text
    check: str = response.json()["checks"]["redis"]
    return check


def test_redis_down_the_gateway_serves_on_its_fallback_and_says_so(
    gateway_factory: GatewayFactory, own_redis: RedisServer
):
    url = gateway_factory(redis_url=SecretStr(f"{own_redis.url}/2"), key_prefix="gw-down:",
                          store_retry_s=0.2, rate_viewer_rps=0.001,
                          rate_viewer_burst=6)  # fmt: skip
    seen, unseen = issue(url, "viewer"), issue(url, "viewer")
    with httpx.Client(base_url=url, timeout=10) as c:
        assert c.get("/api/v1/spaces", headers={"X-API-Key": seen["secret"]}).status_code == 200
        assert redis_check(url) == "ok"
        own_redis.stop()

        eventually(lambda: redis_check(url).startswith("degraded:"), timeout=5,
                   what="/readyz to say degraded")  # fmt: skip
        assert "rate limits per process" in redis_check(url)
        # still serving: the bootstrap key, and a key this process verified before
        assert c.get("/api/v1/spaces", headers={"X-API-Key": ADMIN}).status_code == 200
        statuses = [c.get("/api/v1/spaces", headers={"X-API-Key": seen["secret"]}).status_code
                    for _ in range(10)]  # fmt: skip
        assert statuses[:6] == [200] * 6  # the per-process bucket: its own burst of 6
        assert set(statuses[6:]) == {429}  # and then limited, without Redis
        # what it cannot know is a 503, never a 401: the key may well be valid
        unknown = c.get("/api/v1/spaces", headers={"X-API-Key": unseen["secret"]})
        assert_problem(unknown, 503, "store-unavailable")
        assert unknown.headers["retry-after"] == "1"
        issuing = c.post("/api/v1/keys", json={"role": "viewer"}, headers={"X-API-Key": ADMIN})
        assert_problem(issuing, 503, "store-unavailable")
        metrics = c.get("/metrics").text
        assert "gateway_redis_degraded 1.0" in metrics
        assert 'gateway_fallback_total{part="limits"}' in metrics
        assert 'gateway_fallback_total{part="keys"}' in metrics

        back = RedisServer(own_redis.workdir, own_redis.port, persist=True).start()
        try:
            eventually(lambda: redis_check(url) == "ok", timeout=10, what="redis to be back")
            unseen_now = c.get("/api/v1/spaces", headers={"X-API-Key": unseen["secret"]})
            assert unseen_now.status_code == 200
            assert "gateway_redis_degraded 0.0" in c.get("/metrics").text
        finally:
            back.stop()


def test_redis_down_a_session_is_a_503_not_a_sign_out(
    gateway_factory: GatewayFactory, own_redis: RedisServer
):
    """A session cannot be verified without Redis: 503 (the page keeps its sign-in and retries),
    never 401 (which would sign a wall screen out on every Redis blip)."""
    url = gateway_factory(redis_url=SecretStr(f"{own_redis.url}/2"), key_prefix="gw-down-s:",
                          store_retry_s=0.2)  # fmt: skip
    signed = httpx.post(url + "/api/v1/session", json={"key": issue(url, "viewer")["secret"]},
                        headers={"X-Requested-With": "shelter-watch"}, timeout=10)  # fmt: skip
    cookie = {"Cookie": f"sw_session={signed.cookies['sw_session']}"}
    assert httpx.get(url + "/api/v1/spaces", headers=cookie, timeout=10).status_code == 200
    own_redis.stop()
    eventually(lambda: redis_check(url).startswith("degraded:"), timeout=5,
               what="/readyz to say degraded")  # fmt: skip
    refused = httpx.get(url + "/api/v1/spaces", headers=cookie, timeout=10)
    assert_problem(refused, 503, "store-unavailable")
