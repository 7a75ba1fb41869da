"""`python -m stack` (`make run`): parse the flags, run the local stack, exit with its code.

The var folder, ports, Redis' fsync policy and API key may also come from the environment
(RUN_VAR_DIR, RUN_PORT_BASE, RUN_REDIS_PORT, RUN_REDIS_APPENDFSYNC, SHELTER_API_KEY), so
`make run RUN_PORT_BASE=8100 RUN_REDIS_PORT=6400` works.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from stack.local import LocalStack, run
from stack.ports import Ports
from stack.processes import APPENDFSYNC, ROOT


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    ap = argparse.ArgumentParser(
        prog="python -m stack", description="The whole stack as local processes (make run)."
    )
    ap.add_argument("--var-dir", type=Path, default=Path(env("RUN_VAR_DIR", str(ROOT / "var"))))
    ap.add_argument("--models", type=Path, default=ROOT / "build" / "models")
    ap.add_argument("--photos", type=Path, default=ROOT / "data" / "sample")
    ap.add_argument("--api-key", default=env("SHELTER_API_KEY", "dev-admin-key"))
    ap.add_argument(
        "--port-base",
        type=int,
        default=int(env("RUN_PORT_BASE", "8000")),
        help="gateway port (RUN_PORT_BASE); the services take the next three, the simulator +9",
    )
    ap.add_argument("--redis-port", type=int, default=int(env("RUN_REDIS_PORT", "6399")))
    ap.add_argument(
        "--redis-appendfsync",
        choices=APPENDFSYNC,
        default=env("RUN_REDIS_APPENDFSYNC", "everysec"),
        help="Redis AOF fsync policy (RUN_REDIS_APPENDFSYNC; docs/reliability.md)",
    )
    ap.add_argument("--poll-interval", type=float, default=5.0, help="simulated cameras, seconds")
    ap.add_argument(
        "--ready-timeout", type=float, default=180.0, help="seconds for everything to be ready"
    )
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s run: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per readiness poll
    args = parse_args(argv)
    stack = LocalStack(
        var_dir=args.var_dir.resolve(),
        ports=Ports.from_base(args.port_base, args.redis_port),
        api_key=args.api_key,
        photos=args.photos.resolve(),
        model_dir=args.models.resolve(),
        poll_interval_s=args.poll_interval,
        ready_timeout_s=args.ready_timeout,
        redis_appendfsync=args.redis_appendfsync,
    )
    return run(stack)


if __name__ == "__main__":
    sys.exit(main())
