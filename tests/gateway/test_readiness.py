"""The readiness probe on its own: one concurrent round for every upstream, cached for a second,
callers during a round share it (a flood of /readyz must not fan out upstream)."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest

from gateway.proxy import Upstream
from gateway.readiness import UpstreamReadiness

pytestmark = pytest.mark.anyio
UPSTREAMS = {n: Upstream(n, f"http://{n}") for n in ("camera-ingest", "classifier")}


async def test_one_round_per_ttl_shared_by_concurrent_callers():
    hits: Counter[str] = Counter()
    statuses = {"camera-ingest": 200, "classifier": 503}

    async def answer(request: httpx.Request) -> httpx.Response:
        hits[request.url.host] += 1
        await asyncio.sleep(0.05)  # a round in flight while the other callers arrive
        return httpx.Response(statuses[request.url.host])

    now = [100.0]
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        probe = UpstreamReadiness(client, UPSTREAMS, timeout_s=1.0, clock=lambda: now[0])
        rounds = await asyncio.gather(*(probe.results() for _ in range(20)))
        assert all(r == {"camera-ingest": None, "classifier": "status 503"} for r in rounds)
        assert hits == {"camera-ingest": 1, "classifier": 1}
        now[0] += 0.9
        await probe.results()
        assert hits == {"camera-ingest": 1, "classifier": 1}  # still fresh
        now[0] += 0.1
        statuses["classifier"] = 200
        checks = probe.checks()
        assert [await check() for check in checks.values()] == [None, None]
        assert hits == {"camera-ingest": 2, "classifier": 2}  # one new round for both checks


async def test_unreachable_upstream_is_a_reason_not_an_error():
    async def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
        probe = UpstreamReadiness(client, UPSTREAMS, timeout_s=1.0)
        assert await probe.results() == {
            "camera-ingest": "unreachable (ConnectError)",
            "classifier": "unreachable (ConnectError)",
        }
