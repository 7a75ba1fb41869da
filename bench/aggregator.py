"""Aggregator throughput and latency: observations/s through a real uvicorn process on loopback.

A real redis-server (a fresh, empty one in a temporary folder) and the aggregator under uvicorn,
both started by `stack.processes` as `make run` starts them. `--observations` frames over
`--spaces` spaces, two cameras each, are posted by `--concurrency` keep-alive connections from a
raw-socket asyncio client (a few % of a core, so the service gets the machine), in order:
frame k of every space is sent before frame k+1 of any. Each frame is stamped with the time it is
sent, so the spaces look live (nothing goes stale while the run lasts).

The workload keeps the alert path busy, as a shelter does: every space flips between cat and dog
every `--flip-every` frames, a dog is registered in each space (so each cat phase raises a
species mismatch and each dog phase resolves it: the service runs with MISMATCH_AFTER_S=0), and
the registry holds `--animals` animals in all, most of them in no space (adopted long ago).

Prints a readable table and one JSON line (`"bench": "aggregator"`).

    .venv/bin/python bench/aggregator.py [--observations 2000] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from stack.processes import RedisServer, ServiceProcess  # noqa: E402

CAT = {"cat": 0.9, "dog": 0.05, "other": 0.05}
DOG = {"cat": 0.05, "dog": 0.9, "other": 0.05}


def observations(count: int, spaces: int, flip_every: int) -> Iterator[dict[str, Any]]:
    """Frame k of every space, then frame k+1; cameras alternate; labels flip in blocks."""
    for i in range(count):
        space, k = i % spaces, i // spaces
        probs, label = (CAT, "cat") if (k // flip_every) % 2 == 0 else (DOG, "dog")
        yield {
            "frame_id": f"bench-{space}-{k}",
            "camera_id": f"cam-{space}-{k % 2}",
            "space_id": f"kennel-{space}",
            "label": label,
            "probabilities": probs,
            "model": "efficientnet-lite0-pets",
            "model_version": "1",
        }


def process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def request_for(observation: dict[str, Any]) -> bytes:
    body = json.dumps({**observation, "captured_at": datetime.now(UTC).isoformat()}).encode()
    head = (
        f"POST /v1/observations HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _client(port: int, work: Iterator[dict[str, Any]], latencies: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for observation in work:  # one shared iterator: the connections take turns, in order
            started = time.perf_counter()
            writer.write(request_for(observation))
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith((b"HTTP/1.1 201", b"HTTP/1.1 200")):
                raise RuntimeError(f"service answered {head[:60]!r}")
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
    finally:
        writer.close()
        await writer.wait_closed()


async def drive(port: int, work: Iterator[dict[str, Any]], concurrency: int) -> list[float]:
    latencies: list[float] = []
    await asyncio.gather(*(_client(port, work, latencies) for _ in range(concurrency)))
    return latencies


def register_animals(url: str, *, total: int, spaces: int) -> None:
    with httpx.Client(base_url=url, timeout=10) as client:
        for i in range(total):
            placed = i < spaces
            body = {
                "name": f"Resident {i}" if placed else f"Alumnus {i}",
                "species": "dog" if placed else ("cat" if i % 2 else "dog"),
                "space_id": f"kennel-{i}" if placed else None,
            }
            client.post("/v1/animals", json=body).raise_for_status()


def outcome(url: str) -> dict[str, Any]:
    """What the run left: a sanity check that two versions computed the same thing."""
    with httpx.Client(base_url=url, timeout=10) as client:
        spaces = client.get("/v1/spaces").json()
        alerts = client.get("/v1/alerts").json()
    occupants: dict[str, int] = {}
    for space in spaces:
        occupants[space["occupant"]] = occupants.get(space["occupant"], 0) + 1
    return {
        "spaces": len(spaces),
        "occupants": dict(sorted(occupants.items())),
        "evidence": sum(s["evidence_count"] for s in spaces),
        "alerts_raised": len(alerts),
        "alerts_open": sum(a["status"] != "resolved" for a in alerts),
    }


def percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * q))]


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    redis = RedisServer(workdir / "redis").start()
    env = {
        "AGGREGATOR_REDIS_URL": f"{redis.url}/1",
        "AGGREGATOR_MISMATCH_AFTER_S": "0",
        **dict(kv.split("=", 1) for kv in args.env),
    }
    service = ServiceProcess("aggregator", env)
    try:
        service.start(timeout=60)
        assert service.proc is not None
        assert redis.proc is not None
        register_animals(service.url, total=args.animals, spaces=args.spaces)
        work = observations(args.observations, args.spaces, args.flip_every)
        cpu0, redis0 = process_cpu(service.proc.pid), process_cpu(redis.proc.pid)
        t0 = time.perf_counter()
        latencies = asyncio.run(drive(service.port, work, args.concurrency))
        wall = time.perf_counter() - t0
        cpu = process_cpu(service.proc.pid) - cpu0
        redis_cpu = process_cpu(redis.proc.pid) - redis0
        left = outcome(service.url)
    finally:
        service.stop()
        redis.stop()
    lat = sorted(latencies)
    return {
        "bench": "aggregator",
        "observations": len(lat),
        "concurrency": args.concurrency,
        "spaces": args.spaces,
        "cameras": args.spaces * 2,
        "animals": args.animals,
        "seconds": round(wall, 3),
        "observations_per_s": round(len(lat) / wall, 1),
        "p50_ms": round(statistics.median(lat) * 1000, 2),
        "p99_ms": round(percentile(lat, 0.99) * 1000, 2),
        "service_cpu_s": round(cpu, 2),
        "redis_cpu_s": round(redis_cpu, 2),
        "observations_per_service_cpu_s": round(len(lat) / cpu, 1) if cpu else None,
        "outcome": left,
        "machine": f"{platform.machine()}, nproc {os.cpu_count()}, "
        f"python {platform.python_version()}",
    }


def table(result: dict[str, Any]) -> str:
    rows = [
        ("observations", result["observations"]),
        ("concurrency", result["concurrency"]),
        ("spaces / cameras / animals",
         f"{result['spaces']} / {result['cameras']} / {result['animals']}"),
        ("observations/s", result["observations_per_s"]),
        ("p50 latency ms", result["p50_ms"]),
        ("p99 latency ms", result["p99_ms"]),
        ("service CPU s (redis CPU s)", f"{result['service_cpu_s']} ({result['redis_cpu_s']})"),
        ("observations per service CPU-second", result["observations_per_service_cpu_s"]),
        ("left: spaces, occupants", f"{result['outcome']['spaces']}, "
         f"{result['outcome']['occupants']}"),
        ("left: alerts raised (open)", f"{result['outcome']['alerts_raised']} "
         f"({result['outcome']['alerts_open']})"),
    ]  # fmt: skip
    lines = [f"machine: {result['machine']}", "| measure | value |", "|---|---|"]
    return "\n".join([*lines, *(f"| {name} | {value} |" for name, value in rows)])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--observations", type=int, default=2000)
    parser.add_argument("--spaces", type=int, default=20, help="two cameras each")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--animals", type=int, default=200, help="one dog per space, rest none")
    parser.add_argument("--flip-every", type=int, default=25, help="frames per cat/dog phase")
    parser.add_argument("--env", nargs="*", default=[], help="extra AGGREGATOR_X=Y")
    args = parser.parse_args()
    if args.animals < args.spaces:
        parser.error("--animals must be at least --spaces (one resident per space)")
    with tempfile.TemporaryDirectory(prefix="bench-aggregator-") as workdir:
        result = run(args, Path(workdir))
    print(table(result))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
