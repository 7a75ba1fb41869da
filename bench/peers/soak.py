"""The classifier's memory under a long load: RSS every `--every` seconds while the load
generator keeps `--concurrency` requests in flight, alternating 640x480 and 1920x1080 JPEGs
and the fp32 and int8 models (every served model's arena gets used), for `--seconds`.

    .venv/bin/python -m bench.peers.soak --seconds 600 --concurrency 8     # 10 minutes

Prints one line per sample (elapsed s, RSS MB, images/s over the sample) and the verdict line:
first and last sample, the peak, and the growth from the first sample after warm-up to the end.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bench.peers import loadgen, procs, servers
from bench.peers.compare import FP32, INT8, SIZES, make_jpeg

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--every", type=float, default=30)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    (ROOT / "build" / "bench").mkdir(parents=True, exist_ok=True)
    server = servers.classifier(ROOT / "build" / "models").start()
    assert server.proc is not None
    requests = [
        server.request(make_jpeg(SIZES[size]), model) for size in SIZES for model in (FP32, INT8)
    ]
    samples: list[tuple[float, float, float]] = []
    per = args.every / len(requests)
    start = time.monotonic()
    try:
        while time.monotonic() - start < args.seconds:
            count = 0
            for request in requests:
                out = loadgen.run(server.port, request, concurrency=args.concurrency, seconds=per)
                count += out.count
            rss = procs.rss_mb(server.proc.pid)
            samples.append((time.monotonic() - start, rss, count / args.every))
            print(f"{samples[-1][0]:6.0f} s  RSS {rss:6.1f} MB  {samples[-1][2]:6.1f} images/s")
    finally:
        server.stop()
    warm = samples[min(1, len(samples) - 1)][1]
    peak = max(rss for _, rss, _ in samples)
    print(
        f"RSS first {samples[0][1]:.0f} MB, after warm-up {warm:.0f} MB, last "
        f"{samples[-1][1]:.0f} MB, peak {peak:.0f} MB; growth after warm-up "
        f"{samples[-1][1] - warm:+.0f} MB over {samples[-1][0] - samples[1][0]:.0f} s"
        if len(samples) > 1
        else "too short for a verdict"
    )


if __name__ == "__main__":
    main()
