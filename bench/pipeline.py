"""Level 0 against level 1: N simulated cameras at 1 frame/s each, end to end.

- Level 1, the services: a whole local stack (`stack.local.LocalStack`: Redis, gateway,
  camera-ingest, classifier, aggregator, batch). Each camera PUTs a JPEG through the gateway
  once a second; the lag of a frame is from its 202 to the moment the aggregator's space shows
  it (GET /api/v1/spaces, polled every 0.2 s). The outbox depth is read at the end, and the CPU
  seconds of every service over the run.
- Level 0, one process (the seed's proof of concept): the same cameras and frames, each frame
  read, classified in-process (2-thread ORT session) and fused (aggregator.fusion) in one loop;
  its lag is from the frame's due time to its state update.

`--fail-at S --fail-for D` breaks the classifier part for D seconds from S: level 1 stops the
classifier process (SIGTERM) and starts it again; level 0's classify call raises meanwhile.

    .venv/bin/python bench/pipeline.py --cameras 20 --seconds 60 [--fail-at 20 --fail-for 10]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [
    str(ROOT),
    str(ROOT / "services" / "classifier"),
    str(ROOT / "services" / "aggregator"),
]

import httpx  # noqa: E402

from bench.peers import procs  # noqa: E402
from stack.local import LocalStack  # noqa: E402
from stack.ports import Ports, free_port  # noqa: E402

KEY = "bench-pipeline-admin-key"
DRAIN_S = 30.0  # after the cameras stop, how long the backlog may take to show
PHOTOS = sorted((ROOT / "data" / "sample").glob("*/*.jpg"))


def frames() -> list[bytes]:
    return [p.read_bytes() for p in PHOTOS[:8]]


def summary(name: str, lags: list[float], sent: int, lost: int, extra: str = "") -> str:
    ordered = sorted(lags) or [float("nan")]
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"| {name} | {sent} | {len(lags)} | {lost} | {statistics.median(ordered):.2f} | "
        f"{p99:.2f} | {max(ordered):.2f} | {extra} |"
    )


def level0(cameras: int, seconds: float, fail_at: float | None, fail_for: float) -> str:
    from aggregator.fusion import FusionParams, Reading, SpaceState, fuse
    from classifier.model import ModelRuntime, discover
    from classifier.preprocess import preprocess

    runtime = ModelRuntime(discover(ROOT / "build" / "models")[0], intra_op_threads=2)
    runtime.load()
    images, params = frames(), FusionParams()
    states = {i: SpaceState(space_id=f"space-{i}") for i in range(cameras)}
    lags: list[float] = []
    sent = lost = 0
    start = time.perf_counter()
    due = [start + i / cameras for i in range(cameras)]  # spread over the first second
    while (now := time.perf_counter()) < start + seconds:
        cam = min(range(cameras), key=due.__getitem__)
        time.sleep(max(0.0, due[cam] - now))
        at, due[cam] = due[cam], due[cam] + 1.0
        sent += 1
        data = images[sent % len(images)]  # "capture"
        try:
            if fail_at is not None and fail_at <= at - start < fail_at + fail_for:
                raise RuntimeError("classifier part down")
            (pred,) = runtime.predict(preprocess(data, max_pixels=40_000_000)[None])
        except RuntimeError:
            lost += 1  # nothing keeps the frame: it is gone for good
            continue
        reading = Reading(
            f"f{sent}", f"cam-{cam}", datetime.now(UTC), pred.label, pred.probabilities
        )
        states[cam], _ = fuse(states[cam], reading, params)
        lags.append(time.perf_counter() - at)
    return summary(f"level 0, {cameras} cameras", lags, sent, lost)


async def _camera(
    client: httpx.AsyncClient,
    cam: int,
    images: list[bytes],
    until: float,
    accepted: dict[str, float],
    offset: float,
) -> int:
    await asyncio.sleep(offset)
    sent, due = 0, time.perf_counter()
    while due < until:
        data = images[(cam + sent) % len(images)] + f"{cam}/{sent}".encode()  # unique frames
        sent += 1
        resp = await client.put(
            f"/api/v1/cameras/bench-{cam}/frame",
            content=data,
            headers={"Content-Type": "image/jpeg"},
        )
        if resp.status_code == 202:
            accepted[resp.json()["frame_id"]] = time.perf_counter()
        due += 1.0
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
    return sent


async def _watch(
    client: httpx.AsyncClient, accepted: dict[str, float], seen: dict[str, float], until: float
) -> None:
    """Poll the spaces until the cameras stop and every accepted frame shows (DRAIN_S at most)."""
    while (now := time.perf_counter()) < until + DRAIN_S and (
        now < until or not set(accepted) <= set(seen)
    ):
        resp = await client.get("/api/v1/spaces")
        now = time.perf_counter()
        for space in resp.json() if resp.status_code == 200 else []:
            for reading in space.get("latest_frames", {}).values():
                seen.setdefault(reading["frame_id"], now)
        await asyncio.sleep(0.2)


async def _outage(stack: LocalStack, at: float, length: float) -> None:
    await asyncio.sleep(at)
    clf = next(s for s in stack.children if getattr(s, "package", "") == "classifier")
    await asyncio.to_thread(clf.stop)
    await asyncio.sleep(length)
    clf.spawn()  # type: ignore[attr-defined]


async def _drive(
    stack: LocalStack, cameras: int, seconds: float, fail_at: float | None, fail_for: float
) -> tuple[int, dict[str, float], dict[str, float], int]:
    images = frames()
    async with httpx.AsyncClient(
        base_url=stack.gateway_url, headers={"X-API-Key": KEY}, timeout=30
    ) as client:
        for cam in range(cameras):
            body = {"space_id": f"bench-space-{cam}", "mode": "push"}
            (await client.put(f"/api/v1/cameras/bench-{cam}", json=body)).raise_for_status()
        accepted: dict[str, float] = {}
        seen: dict[str, float] = {}
        until = time.perf_counter() + seconds
        tasks = [_camera(client, c, images, until, accepted, c / cameras) for c in range(cameras)]
        outage = None
        if fail_at is not None:
            outage = asyncio.ensure_future(_outage(stack, fail_at, fail_for))
        watcher = asyncio.ensure_future(_watch(client, accepted, seen, until))
        sent = sum(await asyncio.gather(*tasks))
        if outage is not None:
            await outage
        await watcher
        depth = (await client.get("/api/v1/outbox")).json().get("depth", -1)
    return sent, accepted, seen, depth


def level1(cameras: int, seconds: float, fail_at: float | None, fail_for: float) -> str:
    var = ROOT / "build" / "bench" / "pipeline-var"
    shutil.rmtree(var, ignore_errors=True)
    ports = Ports(*(free_port() for _ in range(7)))
    lift = {"GATEWAY_RATE_ADMIN_RPS": "100000", "GATEWAY_RATE_ADMIN_BURST": "100000"}
    stack = LocalStack(
        var_dir=var,
        ports=ports,
        api_key=KEY,
        photos=ROOT / "data" / "sample",
        model_dir=ROOT / "build" / "models",
        with_sim=False,
        extra_env={"gateway": lift},
    )
    try:
        stack.start()
        pids = {c.name: c.proc.pid for c in stack.children if c.proc is not None}
        cpu0 = {n: procs.cpu_seconds(p) for n, p in pids.items()}
        t0 = time.perf_counter()
        sent, accepted, seen, depth = asyncio.run(
            _drive(stack, cameras, seconds, fail_at, fail_for)
        )
        wall = time.perf_counter() - t0
        cpu = {n: 100 * (procs.cpu_seconds(p) - cpu0[n]) / wall for n, p in pids.items()}
        if fail_at is not None:
            cpu.pop("classifier", None)  # restarted: its first process's CPU is gone
    finally:
        stack.stop()
    lags = [seen[f] - t for f, t in accepted.items() if f in seen]
    lost = len([f for f in accepted if f not in seen]) + (sent - len(accepted))
    where = ", ".join(f"{n} {v:.0f}%" for n, v in sorted(cpu.items(), key=lambda kv: -kv[1]))
    return summary(
        f"level 1, {cameras} cameras",
        lags,
        sent,
        lost,
        f"outbox depth at the end {depth}; CPU: {where}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, nargs="+", default=[10])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--fail-at", type=float)
    parser.add_argument("--fail-for", type=float, default=10)
    parser.add_argument("--levels", nargs="+", default=["0", "1"], choices=["0", "1"])
    args = parser.parse_args()
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load {Path('/proc/loadavg').read_text()[:15]}")
    print(
        "| run | frames sent | state updated | not shown | lag p50 s | lag p99 s | lag max s "
        "| notes |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for n in args.cameras:
        for level in args.levels:
            run = level0 if level == "0" else level1
            print(run(n, args.seconds, args.fail_at, args.fail_for), flush=True)


if __name__ == "__main__":
    main()
