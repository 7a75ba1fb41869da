"""A/B of classifier layouts: several classifiers alive at once, the load generator alternating.

Each variant is `name:KEY=VALUE,...`: the environment of one classifier process (CLASSIFIER_*
settings), plus `REV=<git revision>` for the classifier as it was at that commit. Every round
drives each variant for `--seconds` in turn, the order reversed on odd rounds; the summary is
the median over the rounds, with every round's images/s, so the noise is in plain view. Each
point is `compare.point` (a short warm-up, then the measured window), as in the side-by-side run.

    .venv/bin/python -m bench.peers.ab --concurrency 8 --rounds 6 \
        now: old:REV=9084bfe b4:CLASSIFIER_MAX_BATCH_SIZE=4
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path
from typing import Any

from bench.peers import servers
from bench.peers.compare import FP32, SIZES, make_jpeg, point

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "build" / "models"


def variant(spec: str) -> servers.Server:
    name, _, pairs = spec.partition(":")
    env = dict(pair.split("=", 1) for pair in pairs.split(",") if pair)
    rev = env.pop("REV", None)
    server = servers.classifier_at(rev, MODELS) if rev else servers.classifier(MODELS)
    server.env.update(env)
    server.name = name
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="+", help="name:KEY=VALUE,... (REV=<commit>)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--size", default="640x480", choices=list(SIZES))
    parser.add_argument("--model", default=FP32)
    args = parser.parse_args()
    (ROOT / "build" / "bench").mkdir(parents=True, exist_ok=True)
    started = [variant(spec).start() for spec in args.variants]
    jpeg = make_jpeg(SIZES[args.size])
    rows: dict[str, list[dict[str, Any]]] = {s.name: [] for s in started}
    try:
        for round_ in range(args.rounds):
            for server in started if round_ % 2 == 0 else started[::-1]:
                request = server.request(jpeg, args.model)
                rows[server.name].append(point(server, request, args.concurrency, args.seconds))
    finally:
        for server in started:
            server.stop()
    print(f"{args.size}, c={args.concurrency}, {args.rounds} rounds of {args.seconds} s")
    for server in started:
        got = rows[server.name]

        def median(key: str, got: list[dict[str, Any]] = got) -> float:
            return float(statistics.median(row[key] for row in got))

        rates = " ".join(f"{row['rate']:.0f}" for row in got)
        print(
            f"{server.name:12s} images/s {median('rate'):6.1f} ({rates})"
            f"  p50 {median('p50'):.1f} ms  p99 {median('p99'):.0f} ms  CPU {median('cpu'):.0f}%"
            f"  RSS {max(row['rss_mb'] for row in got):.0f} MB  start {server.started_s:.2f} s"
        )


if __name__ == "__main__":
    main()
