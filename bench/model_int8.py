"""Inference latency of the fp32 model against its static int8 copy: batch 1, 1 and 2 threads.

Both run through `ModelRuntime` (the served session options) on the shipped sample photos,
already preprocessed (inference only). The configurations are interleaved round by round so that
load from other processes hits them alike; the table gives the median and p90 of every call.

    .venv/bin/python bench/model_int8.py [--rounds 20] [--calls 15] [--model-dir build/models]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "services" / "classifier")]

from classifier.model import ModelInfo, ModelRuntime, discover  # noqa: E402
from classifier.preprocess import preprocess  # noqa: E402

THREADS = (1, 2)


def sample_batch() -> np.ndarray:
    files = sorted((ROOT / "data" / "sample").glob("*/*.jpg"))
    return np.stack([preprocess(f.read_bytes(), max_pixels=10**8) for f in files])


def runtimes(model_dir: Path) -> dict[tuple[str, int], ModelRuntime]:
    infos: dict[str, ModelInfo] = {}
    for info in discover(model_dir):
        infos.setdefault(info.precision, info)
    if set(infos) != {"fp32", "int8"}:
        raise SystemExit(f"need an fp32 and an int8 model under {model_dir}: run `make model`")
    out = {}
    for precision, info in sorted(infos.items()):
        for threads in THREADS:
            runtime = ModelRuntime(info, intra_op_threads=threads)
            runtime.load()
            out[(precision, threads)] = runtime
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=ROOT / "build" / "models")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--calls", type=int, default=15, help="calls per config per round")
    args = parser.parse_args(argv)
    batch = sample_batch()
    configs = runtimes(args.model_dir)
    times: dict[tuple[str, int], list[float]] = {key: [] for key in configs}
    for _ in range(args.rounds):
        for key, runtime in configs.items():
            for i in range(args.calls):
                start = time.perf_counter()
                runtime.predict(batch[i % len(batch)][None])
                times[key].append(time.perf_counter() - start)
    cpu = platform.processor() or platform.machine()
    load, calls = os.getloadavg()[0], args.rounds * args.calls
    print(f"{cpu}, {os.cpu_count()} CPUs, load {load:.1f}, batch 1, {calls} calls each")
    print("| precision | threads | median ms | p90 ms | speed-up vs fp32 |")
    print("|---|---|---|---|---|")
    for (precision, threads), values in times.items():
        median = statistics.median(values) * 1000
        p90 = sorted(values)[int(len(values) * 0.9)] * 1000
        base = statistics.median(times[("fp32", threads)]) * 1000
        print(f"| {precision} | {threads} | {median:.2f} | {p90:.2f} | {base / median:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
