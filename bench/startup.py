"""Start-up of each service: process start to its first 200 on /readyz, one service at a time.

The whole local stack is started first (no simulator), so every service's dependencies are up;
then, in turn, each service is stopped and started again ALONE while the others run, and the
time from its spawn to its first /readyz 200 (polled every 10 ms) is taken, `--repeats` times.
This is the start-up a restart or a scale-up sees; `make run` starts all five at once, so there
they share the two cores and each takes longer.

    .venv/bin/python bench/startup.py --repeats 3
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from stack.local import LocalStack  # noqa: E402
from stack.ports import Ports, free_port  # noqa: E402
from stack.processes import ServiceProcess  # noqa: E402


def time_to_ready(service: ServiceProcess, timeout: float = 60) -> float:
    """Seconds from now to the service's first /readyz 200 (ProcessExited if it dies)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if service.ready():
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.01)
    raise TimeoutError(service.name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    var = ROOT / "build" / "bench" / "startup-var"
    shutil.rmtree(var, ignore_errors=True)
    stack = LocalStack(
        var_dir=var,
        ports=Ports(*(free_port() for _ in range(7))),
        api_key="bench-startup-key-not-a-secret",
        photos=ROOT / "data" / "sample",
        model_dir=ROOT / "build" / "models",
        with_sim=False,
    )
    results: dict[str, list[float]] = {}
    try:
        stack.start()
        for service in [c for c in stack.children if isinstance(c, ServiceProcess)]:
            for _ in range(args.repeats):
                service.stop(grace_s=15)
                time.sleep(0.5)  # the port is released, the machine is quiet again
                service.spawn()
                results.setdefault(service.name, []).append(time_to_ready(service))
    finally:
        stack.stop()
    print("| service | process start to ready, s (each run) | median |")
    print("|---|---|---|")
    for name, runs in results.items():
        each = " / ".join(f"{s:.2f}" for s in runs)
        print(f"| {name} | {each} | {statistics.median(runs):.2f} |")


if __name__ == "__main__":
    main()
