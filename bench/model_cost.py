"""Cost per image of every built model, in process: what the candidate's 1.2x rule is judged on.

For each model under each --model-dir: ms per image at batch 1 on a 1-thread and a 2-thread session
(``ModelRuntime.predict``, the served session options, sample photos already preprocessed at the
model's own size), and images/s with 2 processes x 1 thread each (the serving layout FACTS.md
found best). Everything runs in one process tree, round-robin: each repeat measures every
configuration once, so the machine's noise hits all alike; the tables give min / median / max
over the repeats. The decode + resize cost (a 640x480 JPEG to each input size) is listed apart:
it is the same work for every model of a size and is not part of the ratio.

    .venv/bin/python bench/model_cost.py [--repeats 7] [--calls 40] [--model-dir build/models ...]

A model `make model` does not ship (Lite2's int8 copy) is built apart and added:
``build_model.py --out build/lite2-int8 --family lite2 --precision int8``, then
``--model-dir build/models --model-dir build/lite2-int8``.

The 2-process figure uses two spawned workers that hold every model; both start on a barrier
and run --calls predictions of the same model; images/s = 2 * calls / the slower one's time.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing as mp
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Barrier
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "services" / "classifier")]

from PIL import Image  # noqa: E402
from tools.model_input import input_size, tensor_for  # noqa: E402

from classifier.model import ModelInfo, ModelRuntime, discover  # noqa: E402

BASELINE = "efficientnet-lite0-pets/1"  # today's default: fp32 Lite0


def label(info: ModelInfo) -> str:
    return f"{info.name}/{info.version}"


def samples(info: ModelInfo) -> np.ndarray:
    files = sorted((ROOT / "data" / "sample").glob("*/*.jpg"))
    return np.stack([tensor_for(info, f.read_bytes()) for f in files])


Cost = tuple[float, float]  # (wall-clock ms per image, CPU ms per image)


def timed_calls(
    runtime: ModelRuntime, batch: np.ndarray, calls: int, threads: int = 1
) -> tuple[float, float]:
    """Wall and CPU seconds for `calls` batch-1 predictions, cycling the photos. A 1-thread
    session runs on the calling thread: its CPU is that thread's, untouched by other sessions'
    threads; a 2-thread session's is the process's (its pool thread, spinning too, included)."""
    clock = time.thread_time if threads == 1 else time.process_time
    wall, cpu = time.perf_counter(), clock()
    for i in range(calls):
        runtime.predict(batch[i % len(batch)][None])
    return time.perf_counter() - wall, clock() - cpu


def per_image(runtime: ModelRuntime, batch: np.ndarray, calls: int, threads: int) -> Cost:
    wall, cpu = timed_calls(runtime, batch, calls, threads)
    return 1000 * wall / calls, 1000 * cpu / calls


def discover_all(model_dirs: list[Path]) -> list[ModelInfo]:
    return [info for d in model_dirs for info in discover(d)]


def worker(model_dirs: list[Path], conn: Connection, barrier: Barrier) -> None:
    """One 1-thread session per model; runs `calls` predictions of the model it is sent."""
    runtimes = {}
    for info in discover_all(model_dirs):
        runtime = ModelRuntime(info)
        runtime.load()
        runtimes[label(info)] = (runtime, samples(info))
    conn.send("ready")
    while (order := conn.recv()) is not None:
        name, calls = order
        runtime, batch = runtimes[name]
        barrier.wait()
        conn.send(timed_calls(runtime, batch, calls))


class TwoProcesses:
    def __init__(self, model_dirs: list[Path]) -> None:
        ctx = mp.get_context("spawn")
        self.barrier = ctx.Barrier(2)
        self.pipes, self.procs = [], []
        for _ in range(2):
            mine, theirs = ctx.Pipe()
            proc = ctx.Process(target=worker, args=(model_dirs, theirs, self.barrier))
            proc.start()
            self.pipes.append(mine)
            self.procs.append(proc)
        for pipe in self.pipes:
            assert pipe.recv() == "ready"

    def run(self, name: str, calls: int) -> Cost:
        """(images/s of the pair, process CPU ms per image summed over both)."""
        for pipe in self.pipes:
            pipe.send((name, calls))
        walls, cpus = zip(*(pipe.recv() for pipe in self.pipes), strict=True)
        return 2 * calls / max(walls), 1000 * sum(cpus) / (2 * calls)

    def close(self) -> None:
        for pipe in self.pipes:
            pipe.send(None)
        for proc in self.procs:
            proc.join(timeout=30)


def jpeg_640x480() -> bytes:
    with Image.open(ROOT / "data" / "sample" / "cat" / "oxpet-001.jpg") as photo:
        buffer = io.BytesIO()
        photo.convert("RGB").resize((640, 480)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def configurations(infos: list[ModelInfo], calls: int) -> dict[str, Callable[[], Cost]]:
    """Every in-process measurement, by name."""
    configs: dict[str, Callable[[], Cost]] = {}
    for info in infos:
        batch = samples(info)
        for threads in (1, 2):
            runtime = ModelRuntime(info, intra_op_threads=threads)
            runtime.load()
            configs[f"{label(info)}|{threads}"] = partial(per_image, runtime, batch, calls, threads)
    data = jpeg_640x480()
    for info in {input_size(i): i for i in infos}.values():  # one per input size

        def decode(i: ModelInfo = info) -> Cost:
            wall, cpu = time.perf_counter(), time.thread_time()
            for _ in range(calls):
                tensor_for(i, data)
            wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
            return 1000 * wall / calls, 1000 * cpu / calls

        (height, width), resize = input_size(info)
        configs[f"preprocess {resize}->{height}x{width}|1"] = decode
    return configs


def spread(values: list[float]) -> str:
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"


def ratio(values: list[float], base: list[float], rate: bool) -> str:
    """Cost over the baseline's, from the best repeat and from the median one; for a rate
    (images/s) the best is the max and cost is its inverse."""
    best = max if rate else min
    pairs = [(best(values), best(base)), (statistics.median(values), statistics.median(base))]
    return " / ".join(f"{(b / a) if rate else (a / b):.2f}" for a, b in pairs)


def table(results: dict[str, list[Cost]], names: list[str], column: int) -> None:
    first = "images/s" if column == 0 else "CPU ms/image"
    print(
        f"| model | 1 thread | x Lite0 | 2 threads | x Lite0 | 2 proc x 1 thread, {first} |", end=""
    )
    print(" x Lite0 |\n|---|---|---|---|---|---|---|")
    for name in names:
        row = [name]
        for threads in ("1", "2", "2x1"):
            values = [r[column] for r in results[f"{name}|{threads}"]]
            base = [r[column] for r in results[f"{BASELINE}|{threads}"]]
            row += [spread(values), ratio(values, base, rate=threads == "2x1" and column == 0)]
        print("| " + " | ".join(row) + " |")


def report(results: dict[str, list[Cost]], names: list[str]) -> None:
    print("\nWall clock, ms per image (min / median / max over the repeats):")
    table(results, names, 0)
    print("\nCPU, ms per image (what other load on the machine changes least):")
    table(results, names, 1)
    print("\nx Lite0: cost over fp32 Lite0's, from the best repeat / from the median repeat")
    for key in sorted(k for k in results if k.startswith("preprocess")):
        size = key.split()[1].split("|")[0]
        wall = spread([r[0] for r in results[key]])
        print(f"decode + preprocess, 640x480 JPEG, {size}: {wall} ms wall (1 thread)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, action="append", help="default: build/models")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--calls", type=int, default=40, help="predictions per measurement")
    args = parser.parse_args(argv)
    model_dirs = args.model_dir or [ROOT / "build" / "models"]
    infos = discover_all(model_dirs)
    names = [label(i) for i in infos]
    if BASELINE not in names:
        raise SystemExit(f"no {BASELINE} under {model_dirs}: run `make model`")
    configs = configurations(infos, args.calls)
    pair = TwoProcesses(model_dirs)
    results: dict[str, list[Cost]] = {k: [] for k in configs}
    results.update({f"{n}|2x1": [] for n in names})
    try:
        for _ in range(args.repeats):
            for key, measure in configs.items():
                results[key].append(measure())
            for name in names:
                results[f"{name}|2x1"].append(pair.run(name, args.calls))
    finally:
        pair.close()
    cpu = platform.processor() or platform.machine()
    vnni = "yes" if "avx512_vnni" in Path("/proc/cpuinfo").read_text() else "no"
    load = os.getloadavg()[0]
    print(f"{cpu}, {os.cpu_count()} CPUs, AVX-512 VNNI {vnni}, load {load:.1f} at the end")
    print(f"batch 1, {args.calls} calls a measurement, {args.repeats} repeats: min / median / max")
    report(results, names)
    return 0


if __name__ == "__main__":
    sys.exit(main())
