"""Side by side, in one run: the in-process limits, this project's classifier and BentoML.

Every server is started first (the start-up time, process start to ready, is recorded), then
for each image size and repeat, each concurrency point is measured on every target in turn,
the order reversed on odd repeats (A B, B A), with the in-process limits measured in the same
rounds. Results go to --out (JSON, read by bench/peers/plot.py) and the summary tables (min /
median / max over the repeats) to stdout, with `uptime` before and after.

    .venv/bin/python -m bench.peers.compare --seconds 4 --repeats 2          # about 5 minutes
    .venv/bin/python -m bench.peers.compare --quick                          # under a minute
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import subprocess
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from PIL import Image

from bench.peers import inprocess, loadgen, procs, servers
from stack.processes import RedisServer

ROOT = Path(__file__).resolve().parents[2]
SIZES = {"640x480": (640, 480), "1920x1080": (1920, 1080)}
FP32, INT8 = "efficientnet-lite0-pets", "efficientnet-lite0-pets-int8"
CANDIDATE = "efficientnet-lite2-pets"  # the shipped candidate: larger, 260x260 input
REDIS: list[RedisServer] = []  # the gateway's, stopped at the end


def make_jpeg(size: tuple[int, int]) -> bytes:
    with Image.open(ROOT / "data" / "sample" / "cat" / "oxpet-101.jpg") as photo:
        rgb = photo.convert("RGB")
    buffer = io.BytesIO()
    rgb.resize(size, Image.Resampling.LANCZOS).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def uptime() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.machine(),
    )
    vnni = "avx512_vnni" in Path("/proc/cpuinfo").read_text()
    versions = {}
    for pkg in ("onnxruntime", "numpy", "PIL", "uvicorn", "fastapi"):
        module = __import__(pkg)
        versions[pkg] = module.__version__
    bento = servers.BENCH_VENV / "bin" / "python"
    if bento.exists():
        versions["bentoml"] = subprocess.run(
            [str(bento), "-c", "import bentoml; print(bentoml.__version__)"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    return {
        "cpu": cpu,
        "vnni": vnni,
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "versions": versions,
    }


def point(server: servers.Server, request: bytes, c: int, seconds: float) -> dict[str, Any]:
    assert server.proc is not None
    loadgen.run(server.port, request, concurrency=min(c, 4), seconds=0.5)  # warm
    cpu0 = procs.cpu_seconds(server.proc.pid)
    result = loadgen.run(server.port, request, concurrency=c, seconds=seconds)
    cpu = procs.cpu_seconds(server.proc.pid) - cpu0
    return {
        "rate": result.rate,
        "p50": result.percentile(0.5),
        "p99": result.percentile(0.99),
        "cpu": 100 * cpu / result.seconds,
        "rss_mb": procs.rss_mb(server.proc.pid),
        "errors": result.errors,
        "count": result.count,
    }


def in_process(
    model: str, jpeg: bytes, procs_: int, threads: int, seconds: float
) -> dict[str, Any]:
    r = inprocess.measure(
        ROOT / "build" / "models" / model / "1",
        jpeg,
        processes=procs_,
        threads=threads,
        seconds=seconds,
    )
    lat = sorted(r["latencies"])
    return {
        "rate": r["count"] / seconds,
        "p50": statistics.median(lat) * 1000,
        "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000,
        "cpu": 100 * r["cpu_seconds"] / seconds,
        "rss_mb": r["rss_mb"],
        "errors": 0,
        "count": r["count"],
    }


def summarise(rows: list[dict[str, Any]]) -> list[str]:
    groups: dict[tuple[str, str, int], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[(row["size"], row["target"], row["c"])].append(row)
    lines = [
        "| image | target | c | images/s min / median / max | p50 ms (median) | "
        "p99 ms min / median / max | CPU % (median) | images per CPU-second (median) | "
        "RSS MB (max) | errors |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (size, target, c), group in groups.items():
        rates = [g["rate"] for g in group]
        p99s = [g["p99"] for g in group]
        lines.append(
            f"| {size} | {target} | {c} | {min(rates):.1f} / {statistics.median(rates):.1f} / "
            f"{max(rates):.1f} | {statistics.median(g['p50'] for g in group):.1f} | "
            f"{min(p99s):.0f} / {statistics.median(p99s):.0f} / {max(p99s):.0f} | "
            f"{statistics.median(g['cpu'] for g in group):.0f} | "
            f"{statistics.median(100 * g['rate'] / max(g['cpu'], 1e-9) for g in group):.1f} | "
            f"{max(g['rss_mb'] for g in group):.0f} | {sum(g['errors'] for g in group)} |"
        )
    return lines


def targets(args: argparse.Namespace) -> tuple[list[servers.Server], list[tuple[str, Any, str]]]:
    models = ROOT / "build" / "models"
    started: list[servers.Server] = []
    chosen: list[tuple[str, Any, str]] = []
    if "classifier" in args.servers:
        clf = servers.classifier(models, dict(kv.split("=", 1) for kv in args.env))
        started.append(clf)
        chosen.append(("classifier fp32", clf, FP32))
        if args.int8:
            chosen.append(("classifier int8", clf, INT8))
        if args.candidate:
            chosen.append(("classifier candidate (Lite2)", clf, CANDIDATE))
        if "gateway" in args.servers:
            redis = RedisServer(ROOT / "build" / "bench" / "redis")
            redis.start()
            REDIS.append(redis)
            gw = servers.gateway(clf.port, redis.port)
            started.append(gw)
            chosen.append(("gateway -> classifier fp32", gw, FP32))
    if args.before:
        old = servers.classifier_at(args.before, models)
        started.append(old)
        chosen.append((f"classifier@{args.before} fp32", old, FP32))
    if "bentoml" in args.servers:
        bento = servers.bentoml(
            models / FP32 / "1",
            workers=args.bento_workers,
            threads=args.bento_threads,
            batch=args.bento_batch,
            latency_ms=args.bento_latency_ms,
        )
        started.append(bento)
        chosen.append(("bentoml fp32", bento, FP32))
    if not args.no_in_process:
        chosen.append(("in-process limit fp32 (2 proc x 1 thread)", ("inproc", 2, 1), FP32))
        chosen.append(
            ("in-process one at a time fp32 (1 proc x 2 threads)", ("inproc", 1, 2), FP32)
        )
        if args.int8:
            chosen.append(("in-process limit int8 (2 proc x 1 thread)", ("inproc", 2, 1), INT8))
        if args.candidate:
            limit = ("inproc", 2, 1)
            chosen.append(
                ("in-process limit candidate (Lite2, 2 proc x 1 thread)", limit, CANDIDATE)
            )
    return started, chosen


def measure(args: argparse.Namespace, chosen: list[tuple[str, Any, str]]) -> list[dict[str, Any]]:
    rows = []
    for size in args.sizes:
        jpeg = make_jpeg(SIZES[size])
        for rep in range(args.repeats):
            order = chosen if rep % 2 == 0 else chosen[::-1]
            for name, target, model in order:
                if isinstance(target, tuple):  # in-process: no concurrency axis
                    _, n_procs, threads = target
                    res, c = in_process(model, jpeg, n_procs, threads, args.seconds), n_procs
                    rows.append({"size": size, "target": name, "c": c, "rep": rep, **res})
                    print(f"  {size} rep {rep} {name}: {res['rate']:.1f}/s", flush=True)
                    continue
                for c in args.concurrency:
                    res = point(target, target.request(jpeg, model), c, args.seconds)
                    rows.append(
                        {"size": size, "target": name, "c": c, "rep": rep, "load": uptime(), **res}
                    )
                    print(
                        f"  {size} rep {rep} {name} c={c}: {res['rate']:.1f}/s "
                        f"p99 {res['p99']:.0f} ms",
                        flush=True,
                    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="per point")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--servers", nargs="+", default=["classifier", "gateway", "bentoml"])
    parser.add_argument("--before", help="also a classifier from this git revision (A/B)")
    parser.add_argument("--int8", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--no-in-process", action="store_true")
    parser.add_argument("--candidate", action="store_true", help="also the Lite2 candidate")
    parser.add_argument("--env", nargs="*", default=[], help="CLASSIFIER_X=Y for the classifier")
    parser.add_argument("--bento-workers", type=int, default=2)
    parser.add_argument("--bento-threads", type=int, default=1)
    parser.add_argument("--bento-batch", type=int, default=8)
    parser.add_argument("--bento-latency-ms", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="640x480, c=1 and 8, 2 s, 1 repeat")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench" / "peers.json")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.concurrency, args.seconds, args.repeats = ["640x480"], [1, 8], 2.0, 1
        args.servers, args.int8 = ["classifier"], False
    (ROOT / "build" / "bench").mkdir(parents=True, exist_ok=True)
    info = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine(),
        "args": {k: str(v) for k, v in vars(args).items()},
        "load_before": uptime(),
    }
    started: list[servers.Server] = []
    try:
        started, chosen = targets(args)
        for server in started:
            server.start()
        info["started_s"] = {s.name: round(s.started_s, 2) for s in started}
        rows = measure(args, chosen)
    finally:
        for server in started:
            server.stop()
        for redis in REDIS:
            redis.stop()
    info["load_after"] = uptime()
    args.out.write_text(json.dumps({**info, "rows": rows}, indent=1))
    print(
        f"\n{info['date']}, {info['machine']}\nload before {info['load_before']}, "
        f"after {info['load_after']}; start-up (process start to ready) {info['started_s']}\n"
    )
    print("\n".join(summarise(rows)))


if __name__ == "__main__":
    main()
