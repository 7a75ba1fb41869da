"""Classifier throughput and latency: the in-process limit against the service over HTTP.

In-process: decode + preprocess + ONNX Runtime on `--workers` threads (the service's own layout:
one-thread sessions, one per core). Service: a real uvicorn process on loopback, driven by a
raw-socket asyncio client (keep-alive, a few % of a core), at each concurrency. JPEGs of 640x480
and 1920x1080 are made by resizing a sample photo. Every point stops after --seconds or
--max-requests, whichever comes first.

    .venv/bin/python bench/classifier.py [--seconds 6] [--concurrency 1 8 32]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import platform
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "services" / "classifier")]

from PIL import Image  # noqa: E402

from classifier.model import ModelRuntime, discover  # noqa: E402
from classifier.preprocess import preprocess  # noqa: E402
from stack.processes import ServiceProcess  # noqa: E402

SIZES = {"640x480": (640, 480), "1920x1080": (1920, 1080)}
MAX_PIXELS = 40_000_000


@dataclass
class Point:
    where: str
    size: str
    concurrency: int
    count: int
    seconds: float
    latencies: list[float]
    cpu_seconds: float

    def row(self) -> str:
        lat = sorted(self.latencies)
        p50 = statistics.median(lat) * 1000
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
        rate = self.count / self.seconds
        cpu = 100 * self.cpu_seconds / self.seconds
        per_core = self.count / self.cpu_seconds
        return (
            f"| {self.where} | {self.size} | {self.concurrency} | {rate:.1f} | {p50:.1f} | "
            f"{p99:.1f} | {cpu:.0f}% | {per_core:.1f} |"
        )


def make_jpegs(sample: Path) -> dict[str, bytes]:
    with Image.open(sample) as photo:
        rgb = photo.convert("RGB")
    out = {}
    for name, size in SIZES.items():
        buffer = io.BytesIO()
        rgb.resize(size, Image.Resampling.LANCZOS).save(buffer, "JPEG", quality=90)
        out[name] = buffer.getvalue()
    return out


def process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def in_process(runtime: ModelRuntime, data: bytes, size: str, threads: int, seconds: float,
               max_requests: int) -> Point:  # fmt: skip
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def loop() -> None:
        while time.perf_counter() < deadline and len(latencies) < max_requests:
            started = time.perf_counter()
            runtime.predict(preprocess(data, max_pixels=MAX_PIXELS)[None])
            with lock:
                latencies.append(time.perf_counter() - started)

    cpu0, t0 = process_cpu(os.getpid()), time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(loop) for _ in range(threads)]:
            future.result()
    wall = time.perf_counter() - t0
    return Point("in-process", size, threads, len(latencies), wall, latencies,
                 process_cpu(os.getpid()) - cpu0)  # fmt: skip


async def _client(port: int, request: bytes, deadline: float, budget: list[int],
                  latencies: list[float], delay: float) -> None:  # fmt: skip
    await asyncio.sleep(delay)  # open connections a little apart
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline and budget[0] > 0:
            budget[0] -= 1
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"service answered {head[:60]!r}")
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))  # fmt: skip
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
    finally:
        writer.close()


async def over_http(server: ServiceProcess, data: bytes, size: str, concurrency: int,
                    seconds: float, max_requests: int) -> Point:  # fmt: skip
    request = (b"POST /v1/predict HTTP/1.1\r\nHost: bench\r\nContent-Type: image/jpeg\r\n"
               b"Content-Length: %d\r\n\r\n%b") % (len(data), data)  # fmt: skip
    latencies: list[float] = []
    assert server.proc is not None
    cpu0, t0 = process_cpu(server.proc.pid), time.perf_counter()
    deadline, budget = t0 + seconds, [max_requests]
    await asyncio.gather(*(_client(server.port, request, deadline, budget, latencies, i * 0.002)
                           for i in range(concurrency)))  # fmt: skip
    wall = time.perf_counter() - t0
    return Point("service", size, concurrency, len(latencies), wall, latencies,
                 process_cpu(server.proc.pid) - cpu0)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="per point")
    parser.add_argument("--max-requests", type=int, default=2000, help="per point")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--workers", type=int, default=2, help="inference threads")
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--skip-in-process", action="store_true")
    parser.add_argument("--env", nargs="*", default=[], help="extra CLASSIFIER_X=Y for the service")
    args = parser.parse_args()
    model_dir = ROOT / "build" / "models"
    jpegs = make_jpegs(ROOT / "data" / "sample" / "cat" / "oxpet-101.jpg")
    jpegs = {size: data for size, data in jpegs.items() if size in args.sizes}
    runtime = ModelRuntime(discover(model_dir)[0])
    runtime.load()
    print(f"machine: {platform.processor() or platform.machine()}, nproc {os.cpu_count()}, "
          f"python {platform.python_version()}")  # fmt: skip
    print(
        "| where | image | concurrency | images/s | p50 ms | p99 ms | CPU (100% = 1 core) "
        "| images per CPU-second |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for size, data in jpegs.items() if not args.skip_in_process else ():
        for threads in sorted({1, args.workers}):
            print(in_process(runtime, data, size, threads, args.seconds, args.max_requests).row())
    env = {"CLASSIFIER_MODEL_DIR": str(model_dir),
           "CLASSIFIER_INFERENCE_WORKERS": str(args.workers),
           **dict(kv.split("=", 1) for kv in args.env)}  # fmt: skip
    server = ServiceProcess("classifier", env).start(timeout=120)
    try:
        for size, data in jpegs.items():
            asyncio.run(over_http(server, data, size, 2, 1.0, 50))  # warm the connection path
            for c in args.concurrency:
                point = asyncio.run(
                    over_http(server, data, size, c, args.seconds, args.max_requests)
                )
                print(point.row(), flush=True)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
