"""Batch throughput: images/s of a whole job, with one and with two worker processes, against the
classifier's own in-process limit, on the same images in the same run, for a few chunk sizes.

In-process limit: decode + preprocess + ONNX Runtime (`preprocess()` + `ModelRuntime.predict`) on
2 threads, as bench/classifier.py measures it, over the job's own images. Batch: a fresh
redis-server, the classifier under uvicorn (its defaults), the batch API with no workers of its
own, and 1 or 2 `python -m batch.worker` processes (BATCH_WORKER_TASKS each); one zip of the
images per job, the model pinned (efficientnet-lite0-pets/1, the one measured in-process). A
job's rate is its items over the time from its first chunk taken to its last result stored (the
service's own started_at / finished_at): the upload and the expansion are not in it.

    .venv/bin/python bench/batch.py [--images 300] [--chunk-sizes 100 300] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import struct
import sys
import tempfile
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "services" / "classifier")]

import httpx  # noqa: E402
from PIL import Image  # noqa: E402

from classifier.model import ModelRuntime, discover  # noqa: E402
from classifier.preprocess import preprocess  # noqa: E402
from stack.processes import Child, RedisServer, ServiceProcess, eventually  # noqa: E402

MODEL = "efficientnet-lite0-pets"
MAX_PIXELS = 40_000_000


def process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def jpegs(sample: Path, n: int) -> list[bytes]:
    """`n` distinct 640x480 JPEGs of one photo: a comment segment carries each one's number."""
    with Image.open(sample) as photo:
        rgb = photo.convert("RGB").resize((640, 480), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    rgb.save(buffer, "JPEG", quality=90)
    base = buffer.getvalue()
    out = []
    for i in range(n):
        comment = f"bench-{i}".encode()
        out.append(
            base[:2] + b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment + base[2:]
        )
    return out


def in_process(images: list[bytes], threads: int) -> tuple[float, float]:
    """(images/s, CPU share) of decode + preprocess + predict on `threads` threads."""
    info = next(i for i in discover(ROOT / "build" / "models") if i.name == MODEL)
    runtime = ModelRuntime(info)
    runtime.load()
    lock, todo = threading.Lock(), list(images)

    def loop() -> None:
        while True:
            with lock:
                if not todo:
                    return
                data = todo.pop()
            runtime.predict(preprocess(data, max_pixels=MAX_PIXELS)[None])

    cpu0, t0 = process_cpu(os.getpid()), time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(loop) for _ in range(threads)]:
            future.result()
    wall = time.perf_counter() - t0
    return len(images) / wall, (process_cpu(os.getpid()) - cpu0) / wall


def started(child: Child) -> bool:
    child.check_alive()
    assert child.log_path is not None
    return b"worker started" in child.log_path.read_bytes()


def seconds_between(job: dict[str, Any]) -> float:
    started = datetime.fromisoformat(job["started_at"])
    return (datetime.fromisoformat(job["finished_at"]) - started).total_seconds()


def run_job(api: ServiceProcess, archive: bytes, env: dict[str, str], workers: int,
            classifier: ServiceProcess) -> dict[str, float]:  # fmt: skip
    children, logs = [], Path(env["BATCH_DATA_DIR"]).parent
    for n in range(workers):
        name = f"bench-{n}-{time.time_ns()}"
        child = Child(name, log_path=logs / f"{name}.log")
        child.launch([sys.executable, "-m", "batch.worker"],
                     {**env, "BATCH_CONSUMER_NAME": name, "BATCH_LOG_LEVEL": "INFO",
                      "PYTHONPATH": str(ROOT / "services" / "batch")})  # fmt: skip
        children.append(child)
    try:
        # Every worker has started (imports done) and reads the queue before the job exists.
        eventually(lambda: all(started(c) for c in children), timeout=60, what="the workers")
        assert classifier.proc is not None
        cpu0, pids = process_cpu(classifier.proc.pid), [c.proc.pid for c in children if c.proc]
        worker0 = sum(process_cpu(pid) for pid in pids)
        response = httpx.post(f"{api.url}/v1/batch/jobs", content=archive, timeout=300,
                              params={"target": f"{MODEL}/1"},
                              headers={"Content-Type": "application/zip"})  # fmt: skip
        response.raise_for_status()
        url = api.url + response.headers["location"]

        def ended() -> dict[str, Any] | None:
            job: dict[str, Any] = httpx.get(url, timeout=10).json()
            return job if job["state"] not in ("queued", "running") else None

        job = eventually(ended, timeout=600, interval=0.2, what="the job to end")
        if job["state"] != "done" or job["counts"]["failed"]:
            raise RuntimeError(f"the job did not complete cleanly: {job}")
        wall = seconds_between(job)
        return {
            "rate": job["counts"]["done"] / wall,
            "classifier_cpu": (process_cpu(classifier.proc.pid) - cpu0) / wall,
            "worker_cpu": (sum(process_cpu(pid) for pid in pids) - worker0) / wall,
            "wall": wall,
        }
    finally:
        for child in children:
            child.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--chunk-sizes", type=int, nargs="+", default=[100, 300])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--worker-tasks", type=int, default=2, help="BATCH_WORKER_TASKS")
    args = parser.parse_args()
    images = jpegs(ROOT / "data" / "sample" / "cat" / "oxpet-101.jpg", args.images)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for i, data in enumerate(images):
            z.writestr(f"{i:05d}.jpg", data)
    archive = buffer.getvalue()
    print(f"machine: {platform.processor() or platform.machine()}, nproc {os.cpu_count()}, "
          f"python {platform.python_version()}; {len(images)} JPEGs of 640x480, "
          f"{len(images[0]) // 1024} KB each")  # fmt: skip
    limit, limit_cpu = in_process(images, threads=2)
    print(f"in-process limit (2 threads): {limit:.1f} images/s, CPU {100 * limit_cpu:.0f}%")
    print("| chunk size | workers | images/s | of the limit | classifier CPU | workers CPU | "
          "images per classifier CPU-second |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        redis = RedisServer(Path(tmp) / "redis").start()
        classifier = ServiceProcess(
            "classifier", {"CLASSIFIER_MODEL_DIR": str(ROOT / "build" / "models")}
        ).start(timeout=180)
        try:
            for chunk in args.chunk_sizes:
                env = {"BATCH_REDIS_URL": f"{redis.url}/4", "BATCH_DATA_DIR": f"{tmp}/batch",
                       "BATCH_CLASSIFIER_URL": classifier.url, "BATCH_CHUNK_SIZE": str(chunk),
                       "BATCH_WORKER_TASKS": str(args.worker_tasks), "BATCH_LOG_LEVEL": "WARNING",
                       "BATCH_READ_BLOCK_MS": "200"}  # fmt: skip
                api = ServiceProcess("batch", {**env, "BATCH_WORKER_TASKS": "0"}).start()
                try:
                    for workers in args.workers:
                        p = run_job(api, archive, env, workers, classifier)
                        print(f"| {chunk} | {workers} | {p['rate']:.1f} | "
                              f"{100 * p['rate'] / limit:.0f}% | {100 * p['classifier_cpu']:.0f}% "
                              f"| {100 * p['worker_cpu']:.0f}% | "
                              f"{p['rate'] / p['classifier_cpu']:.1f} |", flush=True)  # fmt: skip
                finally:
                    api.stop()
        finally:
            classifier.stop()
            redis.stop()


if __name__ == "__main__":
    main()
