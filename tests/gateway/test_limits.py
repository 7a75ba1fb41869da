"""Rate limits: the Lua token bucket against a real Redis, and the per-address limit at the door
(brute force and unauthenticated floods get 429s before any key lookup or upstream probe).
Two gateway processes sharing one budget are in test_replicas.py."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest

from gateway.config import Limit
from gateway.readiness import READY_CACHE_S
from gateway.store import GatewayStore
from shelter_kit.store import connect
from tests.gateway.conftest import ADMIN, GatewayFactory, assert_problem, issue
from tests.gateway.upstreams import Control
from tests.servers import RedisServer, eventually

BURST = 20


def run_store(server: RedisServer, prefix: str, steps: list[tuple[str, Limit, int]]):
    async def go() -> list[tuple[bool, float]]:
        client = connect(f"{server.url}/2", decode_responses=True)
        try:
            store = GatewayStore(client, prefix=prefix)
            return [await store.take(bucket, limit, cost=cost) for bucket, limit, cost in steps]
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_lua_bucket_takes_looks_and_tells_the_wait(gateway_redis: RedisServer):
    limit = Limit(rate=0.5, burst=3)
    steps = [("b", limit, 0), *[("b", limit, 1)] * 3, ("b", limit, 0), ("b", limit, 1),
             ("other", limit, 1)]  # fmt: skip
    results = run_store(gateway_redis, "gw-lua-1:", steps)
    assert [allowed for allowed, _ in results] == [True, True, True, True, False, False, True]
    assert results[3][1] == pytest.approx(0.0, abs=0.01)  # the last token
    assert 1.9 < results[5][1] <= 2.0  # 1 token at 0.5/s: two seconds (minus the time spent)


def test_lua_bucket_refills_by_redis_time(gateway_redis: RedisServer):
    limit = Limit(rate=20.0, burst=2)
    assert [a for a, _ in run_store(gateway_redis, "gw-lua-2:", [("b", limit, 1)] * 3)] == [
        True, True, False]  # fmt: skip
    eventually(lambda: run_store(gateway_redis, "gw-lua-2:", [("b", limit, 1)])[0][0],
               timeout=2, what="a token after 50 ms")  # fmt: skip


@pytest.fixture(scope="module")
def strict(gateway_factory: GatewayFactory) -> str:
    """A gateway whose addresses get BURST tokens and one more a minute."""
    return gateway_factory(key_prefix="gw-strict:", rate_address_rps=1 / 60,
                           rate_address_burst=BURST)  # fmt: skip


@pytest.fixture
def local(strict: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=strict, timeout=10) as c:
        yield c


def from_address(url: str, address: str) -> httpx.Client:
    """A client whose requests come from another loopback address (127.0.0.x)."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=url, timeout=10, transport=transport)


def test_brute_force_gets_429_within_its_burst(strict: str, control: Control):
    good = issue(strict, "viewer")["secret"]  # issued before: admin calls carry a key
    control.seen.clear()
    with from_address(strict, "127.0.0.5") as attacker:
        answers = [attacker.get("/api/v1/spaces", headers={"X-API-Key": f"sw_{i:032d}"})
                   for i in range(300)]  # fmt: skip
        statuses = [a.status_code for a in answers]
        assert statuses[:BURST] == [401] * BURST
        assert statuses[BURST:] == [429] * (300 - BURST)  # the burst, then only 429s
        limited = answers[-1]
        body = assert_problem(limited, 429, "rate-limited")
        assert (
            body["detail"] == f"rate limit exceeded; retry after {limited.headers['retry-after']}s"
        )
        # a blocked address is refused before its key is looked at, even a good key
        assert attacker.get("/api/v1/spaces", headers={"X-API-Key": good}).status_code == 429
    assert control.seen == []  # no upstream was asked anything
    with from_address(strict, "127.0.0.6") as other:  # another address is not blocked
        assert other.get("/api/v1/spaces", headers={"X-API-Key": good}).status_code == 200


def test_unauthenticated_floods_get_429_before_probing_upstreams(strict: str, control: Control):
    control.readyz_hits.clear()
    with from_address(strict, "127.0.0.7") as flooder:
        started = time.monotonic()
        statuses = [flooder.get("/readyz").status_code for _ in range(BURST)]
        rounds = 2 + int((time.monotonic() - started) / READY_CACHE_S)  # one a second at most
        probed = max(control.readyz_hits.values())
        statuses += [flooder.get("/readyz").status_code for _ in range(200 - BURST)]
        no_key = [flooder.get("/api/v1/spaces").status_code for _ in range(5)]
    assert statuses[:BURST] == [200] * BURST
    assert set(statuses[BURST:]) == {429}
    assert no_key == [429] * 5  # one bucket per address, keyless /api calls included
    assert probed <= rounds  # a flood shares the probe rounds (a slow machine sees more)
    assert max(control.readyz_hits.values()) == probed  # the 429s probed nothing


def test_valid_keys_do_not_spend_the_address_budget(strict: str):
    good = issue(strict, "viewer")["secret"]
    with from_address(strict, "127.0.0.8") as busy:
        statuses = {busy.get("/api/v1/summary", headers={"X-API-Key": good}).status_code
                    for _ in range(BURST * 2)}  # fmt: skip
        assert statuses == {200}
        assert busy.get("/readyz").status_code == 200


def test_admin_key_calls_through_the_same_door(strict: str):
    with from_address(strict, "127.0.0.9") as c:
        assert c.get("/api/v1/keys", headers={"X-API-Key": ADMIN}).status_code == 200
