"""The in-process limits: decode + preprocess + ONNX Runtime with no server in the way.

- `limit`: P processes x 1 intra-op thread, each decoding and classifying one image after
  another (the best-throughput layout on this CPU, FACTS.md): the ceiling a server can approach.
- `one_at_a_time`: 1 process x T threads, one image at a time: the latency floor of c=1.

Each runs in fresh spawned processes (so its memory is its own), warmed up, then measured over
the same window (a shared start time).
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
MAX_PIXELS = 40_000_000


def classify_fn(model: str, threads: int) -> Callable[[bytes], None]:
    """Decode + preprocess + one ORT run of an image, on a session of its own (`threads` intra-op
    threads), the way the classifier does it; call it in the process that measures."""
    sys.path.insert(0, str(ROOT / "services" / "classifier"))
    from classifier.model import ModelInfo, ModelRuntime
    from classifier.preprocess import preprocess, resize_for

    info = ModelInfo.from_dir(Path(model))
    runtime = ModelRuntime(info, intra_op_threads=threads)
    runtime.load()
    _, height, width = runtime.image_shape
    crop = (height, width)
    resize = resize_for(crop, info.preprocessing.get("resize_to"))

    def classify(jpeg: bytes) -> None:
        runtime.predict(preprocess(jpeg, max_pixels=MAX_PIXELS, crop=crop, resize=resize)[None])

    return classify


def _worker(model: str, jpeg: bytes, threads: int, start: float, seconds: float, out: Any) -> None:
    classify = classify_fn(model, threads)
    for _ in range(5):
        classify(jpeg)
    time.sleep(max(0.0, start - time.time()))
    before = resource.getrusage(resource.RUSAGE_SELF)
    latencies, deadline = [], time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        t0 = time.perf_counter()
        classify(jpeg)
        latencies.append(time.perf_counter() - t0)
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    out.put((latencies, cpu, after.ru_maxrss / 1000))


def measure(
    model: Path, jpeg: bytes, *, processes: int, threads: int, seconds: float
) -> dict[str, Any]:
    """Images, latencies (s), CPU seconds in the window and peak RSS (MB), summed over the
    processes."""
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    start = time.time() + 3.0  # time to spawn, load and warm
    procs = [
        ctx.Process(target=_worker, args=(str(model), jpeg, threads, start, seconds, out))
        for _ in range(processes)
    ]
    for p in procs:
        p.start()
    parts = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join()
    latencies = [lat for part in parts for lat in part[0]]
    return {
        "count": len(latencies),
        "seconds": seconds,
        "latencies": latencies,
        "cpu_seconds": sum(part[1] for part in parts),
        "rss_mb": sum(part[2] for part in parts),
    }
