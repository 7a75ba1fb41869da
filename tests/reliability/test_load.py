"""Load: 60 s of frame pushes (camera key) and reads (viewer key) through the gateway at a fixed
rate, open loop (each request starts on its schedule, however long the others take), on loopback.
Zero errors: every push 202, every read 200. The p99 of each is printed and bounded by the
gateway's timeout (a bound, not a benchmark: docs/benchmarks.md has the numbers). The resident
memory of every process is sampled from /proc each second and must stay flat: the peak of the
second half is at most the first half's peak plus 10 % (or 16 MiB, whichever is more).
Afterwards every accepted frame is in the aggregator once."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from stack.processes import eventually
from tests.reliability.conftest import GATEWAY_TIMEOUT_S, LOAD, Shelter
from tests.reliability.traffic import distinct_frames, percentile
from tests.servers import ROOT

pytestmark = pytest.mark.reliability
DURATION_S, PUSH_RATE, READ_RATE = 60.0, 5.0, 5.0
MiB = 1024 * 1024


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


async def sample_rss(sh: Shelter, until: float, out: dict[str, list[int]]) -> None:
    while time.monotonic() < until:
        for child in sh.stack.children:
            if child.proc is not None:
                out[child.name].append(rss_bytes(child.proc.pid))
        await asyncio.sleep(1.0)  # the sampling period


async def open_loop(
    count: int,
    rate: float,
    call: Callable[[int], Awaitable[str | None]],
    latencies: list[float],
    errors: list[str],
) -> None:
    """`count` calls, the i-th started at i / rate s; each returns None or what went wrong."""
    t0 = time.monotonic()

    async def one(i: int) -> None:
        await asyncio.sleep(max(0.0, t0 + i / rate - time.monotonic()))  # its slot
        started = time.monotonic()
        try:
            problem = await call(i)
        except httpx.HTTPError as exc:
            problem = repr(exc)
        latencies.append(time.monotonic() - started)
        if problem:
            errors.append(problem)

    await asyncio.gather(*(one(i) for i in range(count)))


async def run_load(sh: Shelter) -> dict[str, object]:
    camera, space, camera_key = sh.camera("load")
    pushes, reads = int(DURATION_S * PUSH_RATE), int(DURATION_S * READ_RATE)
    images = distinct_frames(ROOT / "data" / "sample", pushes)
    accepted: set[str] = set()
    lat: dict[str, list[float]] = {"push": [], "read": []}
    errors: list[str] = []
    rss: dict[str, list[int]] = defaultdict(list)
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(base_url=sh.gateway_url, timeout=30, limits=limits) as client:
        viewer = await client.post("/api/v1/keys", json={"role": "viewer"}, headers=sh.admin)
        assert viewer.status_code == 201, viewer.text
        read_headers = {"X-API-Key": viewer.json()["secret"]}

        async def push(i: int) -> str | None:
            resp = await client.put(
                f"/api/v1/cameras/{camera}/frame",
                content=images[i],
                headers={"X-API-Key": camera_key, "Content-Type": "image/jpeg"},
            )
            if resp.status_code != 202:
                return f"push {resp.status_code}: {resp.text[:200]}"
            accepted.add(resp.json()["frame_id"])
            return None

        async def read(i: int) -> str | None:
            path = f"/api/v1/spaces/{space}" if i % 2 else "/api/v1/summary"
            resp = await client.get(path, headers=read_headers)
            ok = resp.status_code == 200 or (resp.status_code == 404 and "spaces" in path)
            return None if ok else f"read {path} {resp.status_code}: {resp.text[:200]}"

        until = time.monotonic() + DURATION_S + 2
        await asyncio.gather(
            open_loop(pushes, PUSH_RATE, push, lat["push"], errors),
            open_loop(reads, READ_RATE, read, lat["read"], errors),
            sample_rss(sh, until, rss),
        )
    eventually(lambda: sh.delivered(space) >= len(accepted), timeout=120, what="load delivered")
    return {
        "pushes": pushes,
        "reads": reads,
        "errors": errors,
        "accepted": len(accepted),
        "delivered": sh.delivered(space),
        "p50 push ms": percentile(lat["push"], 50) * 1000,
        "p99 push ms": percentile(lat["push"], 99) * 1000,
        "p50 read ms": percentile(lat["read"], 50) * 1000,
        "p99 read ms": percentile(lat["read"], 99) * 1000,
        "rss": dict(rss),
    }


def flat(samples: list[int]) -> tuple[bool, int, int]:
    half = len(samples) // 2
    first, second = max(samples[:half]), max(samples[half:])
    return second <= first + max(16 * MiB, first // 10), first, second


def test_gateway_under_steady_load(shelter: Shelter) -> None:
    result = asyncio.run(run_load(shelter))
    rss = result.pop("rss")
    assert isinstance(rss, dict)
    LOAD.update(result)
    LOAD["rss MiB (first half peak -> second half peak)"] = {
        name: f"{flat(s)[1] / MiB:.0f} -> {flat(s)[2] / MiB:.0f}" for name, s in rss.items()
    }
    assert result["errors"] == [], result["errors"][:5]  # type: ignore[index]
    assert result["accepted"] == result["pushes"]
    assert result["delivered"] == result["accepted"]
    assert float(result["p99 push ms"]) < GATEWAY_TIMEOUT_S * 1000  # type: ignore[arg-type]
    assert float(result["p99 read ms"]) < GATEWAY_TIMEOUT_S * 1000  # type: ignore[arg-type]
    grew = {name: flat(s) for name, s in rss.items() if not flat(s)[0]}
    assert not grew, f"resident memory grew (first-half peak, second-half peak): {grew}"
