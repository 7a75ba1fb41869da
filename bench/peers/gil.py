"""Does one GIL cost the classifier throughput? The in-process limit's loop (decode + preprocess
+ ONNX Runtime, one image after another, 1 intra-op thread) on two Python threads in ONE
process, with a session each or one shared session (the classifier's layout), alternating with
the limit itself (two processes), rounds reversed in turn.

    .venv/bin/python -m bench.peers.gil --seconds 6 --rounds 2
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.peers import inprocess
from bench.peers.compare import FP32, SIZES, make_jpeg

ROOT = Path(__file__).resolve().parents[2]


def _threads(model: str, jpeg: bytes, shared: bool, seconds: float, out: Any) -> None:
    first = inprocess.classify_fn(model, threads=1)
    classifiers = [first, first] if shared else [first, inprocess.classify_fn(model, threads=1)]
    counts = [0, 0]

    def loop(i: int, deadline: float) -> None:
        while time.perf_counter() < deadline:
            classifiers[i](jpeg)
            counts[i] += 1

    for _ in range(5):
        for warm in classifiers:
            warm(jpeg)
    before = resource.getrusage(resource.RUSAGE_SELF)
    deadline = time.perf_counter() + seconds
    workers = [threading.Thread(target=loop, args=(i, deadline)) for i in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    out.put((sum(counts) / seconds, 100 * cpu / seconds))


def threads_in_one_process(model: Path, jpeg: bytes, *, shared: bool, seconds: float) -> str:
    ctx = mp.get_context("spawn")  # a fresh process, as the limit's
    out = ctx.Queue()
    proc = ctx.Process(target=_threads, args=(str(model), jpeg, shared, seconds, out))
    proc.start()
    rate, cpu = out.get(timeout=120)
    proc.join()
    return f"{rate:.1f} images/s, CPU {cpu:.0f}%"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--size", default="640x480", choices=list(SIZES))
    args = parser.parse_args()
    model = ROOT / "build" / "models" / FP32 / "1"
    jpeg = make_jpeg(SIZES[args.size])

    seconds = args.seconds

    def limit() -> str:
        r = inprocess.measure(model, jpeg, processes=2, threads=1, seconds=seconds)
        return f"{r['count'] / seconds:.1f} images/s, CPU {100 * r['cpu_seconds'] / seconds:.0f}%"

    def own() -> str:
        return threads_in_one_process(model, jpeg, shared=False, seconds=seconds)

    def shared() -> str:
        return threads_in_one_process(model, jpeg, shared=True, seconds=seconds)

    variants: dict[str, Callable[[], str]] = {
        "2 processes x 1 thread (the limit)": limit,
        "1 process, 2 threads, a session each": own,
        "1 process, 2 threads, one shared session": shared,
    }
    names = list(variants)
    for round_ in range(args.rounds):
        for name in names if round_ % 2 == 0 else names[::-1]:
            print(f"round {round_} {name}: {variants[name]()}", flush=True)


if __name__ == "__main__":
    main()
