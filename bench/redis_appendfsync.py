"""What Redis' `appendfsync` costs: frame enqueues a second under `always`, `everysec` and `no`.

For each policy, a fresh redis-server with AOF on (started by `stack.processes.RedisServer`, as
`make run` and the tests start it, in a temporary folder on the disk this runs on) takes
`--frames` enqueues from `--concurrency` connections. Each enqueue is one script shaped like
camera-ingest's (`outbox_scripts.ENQUEUE`): the frame's bytes (`--bytes`, a small JPEG's size)
with a TTL, its record hash, and an XADD to the outbox stream. Prints a table and one JSON line.

    .venv/bin/python bench/redis_appendfsync.py [--frames 3000] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from redis.asyncio import Redis  # noqa: E402

from stack.processes import APPENDFSYNC, RedisServer  # noqa: E402

ENQUEUE = """
redis.call('SET', KEYS[1], ARGV[2], 'EX', 3600)
redis.call('HSET', KEYS[2], 'frame_id', ARGV[1], 'status', 'queued', 'camera_id', 'bench')
redis.call('XADD', KEYS[3], '*', 'frame_id', ARGV[1])
return 1
"""


async def load(url: str, frames: int, concurrency: int, size: int) -> tuple[float, list[float]]:
    client = Redis.from_url(url)
    script = client.register_script(ENQUEUE)
    data, latencies = b"\xff" * size, []

    async def worker(start: int) -> None:
        for i in range(start, frames, concurrency):
            t = time.perf_counter()
            await script(keys=[f"f:{i}:data", f"f:{i}", "outbox"], args=[str(i), data])
            latencies.append(time.perf_counter() - t)

    began = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    elapsed = time.perf_counter() - began
    await client.aclose()
    return frames / elapsed, sorted(latencies)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=3000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--bytes", type=int, default=12_000)
    args = ap.parse_args()
    results = {}
    print(f"{'appendfsync':<12} {'enqueues/s':>10} {'p50 ms':>8} {'p99 ms':>8}")
    for policy in APPENDFSYNC:
        with tempfile.TemporaryDirectory() as tmp:
            server = RedisServer(Path(tmp), persist=True, appendfsync=policy).start()
            try:
                rate, lat = asyncio.run(load(server.url, args.frames, args.concurrency, args.bytes))
            finally:
                server.stop()
        p50, p99 = lat[len(lat) // 2] * 1e3, lat[int(len(lat) * 0.99)] * 1e3
        results[policy] = {"enqueues_per_s": round(rate), "p50_ms": p50, "p99_ms": p99}
        print(f"{policy:<12} {rate:>10.0f} {p50:>8.2f} {p99:>8.2f}")
    print(json.dumps({"bench": "redis_appendfsync", **vars(args), "results": results}))


if __name__ == "__main__":
    main()
