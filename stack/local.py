"""`make run`: the whole stack as local processes, no Docker.

Checks that every port is free before it starts anything; starts a real Redis with AOF persistence
under `var/redis`, the five services under uvicorn, and the camera simulator; registers each
simulated camera in its own space through the gateway; prints the gateway URL and the API key; and
on Ctrl-C, SIGTERM, SIGHUP or its parent going away stops everything it started, newest first
(the simulator, the gateway, ..., Redis last), then says "stopped". A second run keeps the state.
Each process logs to `var/log/<name>.log`: redis, classifier, aggregator, batch, camera-ingest,
gateway, camera-sim. The batch service keeps a job's images under `var/batch` while it runs.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import httpx

from stack.ports import Ports, ports_taken
from stack.processes import (
    ROOT,
    SERVICE_DIRS,
    Child,
    RedisServer,
    ServiceProcess,
    eventually,
)

log = logging.getLogger("stack")
SIM_CAMERAS = {"kennel-1": "cat", "kennel-2": "dog", "kennel-3": "cat", "room-1": "none"}


class LaunchError(RuntimeError):
    """The stack could not be started: the message says why."""


class Stop(Exception):
    """Raised by the signal handler or the supervisor: time to stop everything."""


@dataclass
class LocalStack:
    var_dir: Path
    ports: Ports
    api_key: str
    photos: Path
    model_dir: Path
    poll_interval_s: float = 5.0
    ready_timeout_s: float = 180.0
    redis_appendfsync: str = "everysec"  # RUN_REDIS_APPENDFSYNC: always, everysec or no
    # Settings on top of the wiring below, per package (`{"gateway": {"GATEWAY_X": "1"}}`): the
    # reliability suite shortens timeouts with it. `with_sim=False` runs no camera simulator.
    extra_env: dict[str, dict[str, str]] = field(default_factory=dict)
    with_sim: bool = True
    children: list[Child] = field(default_factory=list)

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.gateway}"

    def log_path(self, name: str) -> Path:
        return self.var_dir / "log" / f"{name}.log"

    def services(self) -> list[ServiceProcess]:
        """The five services in start order; the gateway last, as its /readyz asks every other."""
        p, redis = self.ports, f"redis://127.0.0.1:{self.ports.redis}"
        classifier = f"http://127.0.0.1:{p.classifier}"
        aggregator = f"http://127.0.0.1:{p.aggregator}"
        envs: dict[str, tuple[int, dict[str, str]]] = {
            "classifier": (p.classifier, {
                "CLASSIFIER_MODEL_DIR": str(self.model_dir),
                "CLASSIFIER_REDIS_URL": f"{redis}/3",
                "CLASSIFIER_STORE_DIR": str(self.var_dir / "classifier"),
            }),
            "aggregator": (p.aggregator, {
                "AGGREGATOR_REDIS_URL": f"{redis}/1",
                "AGGREGATOR_INGEST_URL": f"http://127.0.0.1:{p.ingest}",  # camera health alerts
            }),
            "batch": (p.batch, {
                "BATCH_REDIS_URL": f"{redis}/4",
                "BATCH_DATA_DIR": str(self.var_dir / "batch"),
                "BATCH_CLASSIFIER_URL": classifier,
                "BATCH_INGEST_URL": f"http://127.0.0.1:{p.ingest}",
            }),
            "camera_ingest": (p.ingest, {
                "INGEST_REDIS_URL": f"{redis}/0",
                "INGEST_CLASSIFIER_URL": classifier,
                "INGEST_AGGREGATOR_URL": aggregator,
                "INGEST_SNAPSHOT_ALLOW_NETWORKS": "127.0.0.1/32",  # the simulator, on loopback
                "INGEST_ARCHIVE_DIR": str(self.var_dir / "frames"),  # delivered frames, kept
            }),
            "gateway": (p.gateway, {
                "GATEWAY_REDIS_URL": f"{redis}/2",  # the key store and the shared rate limits
                "GATEWAY_BOOTSTRAP_ADMIN_KEY": self.api_key,  # what `make run` prints
                "GATEWAY_CLASSIFIER_URL": classifier,
                "GATEWAY_AGGREGATOR_URL": aggregator,
                "GATEWAY_INGEST_URL": f"http://127.0.0.1:{p.ingest}",
                "GATEWAY_BATCH_URL": f"http://127.0.0.1:{p.batch}",
            }),
        }  # fmt: skip
        return [
            ServiceProcess(
                package,
                {**env, **self.extra_env.get(package, {})},
                port=port,
                log_path=self.log_path(SERVICE_DIRS[package].name),
                new_session=True,  # the terminal's Ctrl-C reaches only us: we stop them in order
            )
            for package, (port, env) in envs.items()
        ]

    def start(self) -> None:
        """Start everything and wait until it is all ready, within `ready_timeout_s`."""
        started = time.monotonic()
        deadline = started + self.ready_timeout_s
        redis = RedisServer(
            self.var_dir / "redis",
            self.ports.redis,
            persist=True,
            log_path=self.log_path("redis"),
            new_session=True,
            appendfsync=self.redis_appendfsync,
        )
        self.children.append(redis)  # before it starts: a failed start is stopped too
        redis.start(timeout=60)
        log.info("redis ready on port %d (%.1f s)", redis.port, time.monotonic() - started)
        services = self.services()
        for service in services:  # all at once: they load in parallel
            self.children.append(service)
            service.spawn()
        if self.with_sim:
            self.spawn_sim()
        for service in services:
            self.wait(service.ready, what=f"{service.name} to be ready", until=deadline)
            elapsed = time.monotonic() - started
            log.info("%s ready on port %d (%.1f s)", service.name, service.port, elapsed)
        if self.with_sim:
            self.wait(self.sim_ready, what="the camera simulator", until=deadline)

    def spawn_sim(self) -> None:
        """tools/camera_sim.py, a script run by its path, serving SIM_CAMERAS' sample photos."""
        sim = Child("camera-sim", log_path=self.log_path("camera-sim"), new_session=True)
        self.children.append(sim)
        cameras = ",".join(f"{name}={label}" for name, label in SIM_CAMERAS.items())
        sim.launch(
            [sys.executable, str(ROOT / "tools" / "camera_sim.py"), "--photos", str(self.photos),
             "--port", str(self.ports.sim), "--cameras", cameras, "--sensor-noise"]
        )  # fmt: skip

    def sim_ready(self) -> bool:
        url = f"http://127.0.0.1:{self.ports.sim}/cameras"
        return httpx.get(url, timeout=2).status_code == 200

    def wait(self, check: Callable[[], bool], *, what: str, until: float) -> None:
        """Wait for `check` until the deadline, failing at once if any child has exited."""

        def probe() -> bool:
            for child in self.children:
                child.check_alive()
            return check()

        eventually(probe, timeout=max(until - time.monotonic(), 1), interval=0.2, what=what)

    def register_sim_cameras(self) -> None:
        headers = {"X-API-Key": self.api_key}
        with httpx.Client(base_url=self.gateway_url, headers=headers, timeout=10) as client:
            for name in SIM_CAMERAS:
                body = {
                    "space_id": name,
                    "mode": "poll",
                    "enabled": True,
                    "snapshot_url": f"http://127.0.0.1:{self.ports.sim}/cameras/{name}/snapshot.jpg",
                    "interval_s": self.poll_interval_s,
                }
                resp = client.put(f"/api/v1/cameras/sim-{name}", json=body)  # create or replace
                if resp.status_code >= 400:
                    msg = f"registering camera sim-{name} failed with HTTP {resp.status_code}"
                    raise LaunchError(f"{msg}: {resp.text[:500]}")

    def supervise(self) -> NoReturn:
        """Never return: raise Stop when the parent goes, ProcessExited when a child does."""
        parent = os.getppid()
        while True:
            if os.getppid() != parent:  # `make` (or a terminal) went away without a signal
                raise Stop("parent exited")
            for child in self.children:
                child.check_alive()
            time.sleep(0.5)

    def stop(self) -> None:
        for child in reversed(self.children):
            child.stop(grace_s=15)
        self.children.clear()


def run(stack: LocalStack) -> int:
    """The whole of `make run`: 0 after a requested stop, 1 when the stack cannot run."""
    taken = ports_taken(stack.ports)
    if taken:
        log.error("%s", taken)
        return 1

    def on_signal(signum: int, _frame: object) -> None:
        raise Stop(signal.Signals(signum).name)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    started = time.monotonic()
    try:
        stack.start()
        stack.register_sim_cameras()
        log.info("ready in %.1f s", time.monotonic() - started)
        log.info("gateway: %s  (dashboard at /, API docs at /docs)", stack.gateway_url)
        log.info("API key (bootstrap admin): %s   logs: %s/log/*.log   Ctrl-C stops everything",
                 stack.api_key, stack.var_dir)  # fmt: skip
        stack.supervise()
    except Stop as reason:
        log.info("stop requested: %s", reason)
        return 0
    except (RuntimeError, OSError, httpx.HTTPError) as exc:  # TimeoutError is an OSError
        log.error("%s", exc)
        return 1
    finally:
        # A second Ctrl-C must not interrupt the shutdown and orphan the children (they run in
        # sessions of their own, so the terminal's signal does not reach them).
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        log.info("stopping")
        stack.stop()
        log.info("stopped")
