"""The whole stack as `make run` starts it (`stack.LocalStack`: Redis with AOF, the five services),
with the classifier behind the fault proxy, the frame archive on a small tmpfs of its own, and
timeouts shortened so that a stall can outlast them within seconds. One stack for the session;
each test uses its own camera, space and camera key. The fault table is printed at the end.

Ports: RELIABILITY_PORT_BASE (default 9400): the gateway on it, the services on the next four,
the fault proxy on +5, Redis on +10.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from stack.local import LocalStack
from stack.ports import Ports
from stack.processes import Child, RedisServer, ServiceProcess, eventually
from tests.servers import ROOT

ADMIN_KEY = "reliability-admin-key"
GATEWAY_TIMEOUT_S = 5.0  # GATEWAY_FRAME_TIMEOUT_S below: the bound on any answer to a push
ARCHIVE_FS_BYTES = 32 * 1024 * 1024
ROWS: list[dict[str, Any]] = []  # the fault table, one row per fault test
LOAD: dict[str, Any] = {}  # the load test's numbers
HEADER = ("fault", "sent", "accepted", "delivered", "duplicates", "lost", "recovery s", "drain s")
SETTINGS: dict[str, dict[str, str]] = {
    "gateway": {
        "GATEWAY_FRAME_TIMEOUT_S": str(GATEWAY_TIMEOUT_S),
        "GATEWAY_READ_TIMEOUT_S": "5",
        "GATEWAY_JSON_TIMEOUT_S": "5",
        "GATEWAY_BREAKER_RESET_S": "1",
        "GATEWAY_RATE_CAMERA_RPS": "500",
        "GATEWAY_RATE_CAMERA_BURST": "500",
        "GATEWAY_RATE_ADMIN_RPS": "500",
        "GATEWAY_RATE_ADMIN_BURST": "500",
        "GATEWAY_RATE_VIEWER_RPS": "500",
        "GATEWAY_RATE_VIEWER_BURST": "500",
        "GATEWAY_RATE_ADDRESS_RPS": "1000",
        "GATEWAY_RATE_ADDRESS_BURST": "1000",
    },
    "camera_ingest": {
        "INGEST_REQUEST_TIMEOUT_S": "5",
        "INGEST_RETRY_BASE_S": "0.1",
        "INGEST_RETRY_MAX_S": "1.0",
        "INGEST_BREAKER_RESET_S": "1.0",
        "INGEST_SHUTDOWN_GRACE_S": "1",
        "INGEST_ARCHIVE_MAX_BYTES": str(ARCHIVE_FS_BYTES // 2),
        # INGEST_RECLAIM_MIN_IDLE_S keeps its default (30 s): recovery after a crash must not
        # wait for it (dead consumers' entries are taken over at once, see workers.py).
    },
    "aggregator": {"AGGREGATOR_REDIS_TIMEOUT_S": "2"},
}


@dataclass
class Shelter:
    stack: LocalStack
    proxy: Child
    proxy_url: str
    archive_dir: Path
    admin: dict[str, str] = field(default_factory=lambda: {"X-API-Key": ADMIN_KEY})

    @property
    def gateway_url(self) -> str:
        return self.stack.gateway_url

    @property
    def log_dir(self) -> Path:
        return self.stack.var_dir / "log"

    def process(self, name: str) -> Child:
        """'redis', 'gateway', 'camera-ingest', 'classifier', 'aggregator' or 'batch'."""
        return next(c for c in self.stack.children if c.name == name)

    def service(self, name: str) -> ServiceProcess:
        child = self.process(name)
        assert isinstance(child, ServiceProcess)
        return child

    @property
    def redis(self) -> RedisServer:
        child = self.process("redis")
        assert isinstance(child, RedisServer)
        return child

    def services(self) -> list[ServiceProcess]:
        return [c for c in self.stack.children if isinstance(c, ServiceProcess)]

    def camera(self, prefix: str) -> tuple[str, str, str]:
        """A new push camera in a new space, and a key for it alone: (camera, space, secret)."""
        camera, space = f"{prefix}-{uuid.uuid4().hex[:8]}", f"{prefix}-space-{uuid.uuid4().hex[:6]}"
        with httpx.Client(base_url=self.gateway_url, headers=self.admin, timeout=20) as client:
            made = client.put(f"/api/v1/cameras/{camera}", json={"space_id": space, "mode": "push"})
            assert made.status_code in (200, 201), made.text
            key = client.post("/api/v1/keys", json={"role": "camera", "cameras": [camera]})
            assert key.status_code == 201, key.text
        return camera, space, str(key.json()["secret"])

    def delivered(self, space: str) -> int:
        """The aggregator's count of distinct frames for the space (0 while it knows none)."""
        url = f"{self.service('aggregator').url}/v1/spaces/{space}"
        resp = httpx.get(url, timeout=5)
        if resp.status_code == 404:
            return 0
        assert resp.status_code == 200, resp.text
        return int(resp.json()["observation_count"])

    def outbox(self) -> dict[str, Any]:
        resp = httpx.get(f"{self.service('camera-ingest').url}/v1/outbox", timeout=5)
        assert resp.status_code == 200, resp.text
        return dict(resp.json())

    def not_ready(self) -> list[str]:
        """The processes whose /readyz is not 200 now (Redis: PING), [] when all are ready."""
        out = []
        for service in self.services():
            try:
                if service.status() != 200:
                    out.append(service.name)
            except httpx.HTTPError:
                out.append(service.name)
        try:
            self.redis.ping()
        except OSError:
            out.append("redis")
        return out

    def set_classifier_fault(self, mode: str) -> None:
        resp = httpx.put(f"{self.proxy_url}/_fault/{mode}", timeout=5)
        assert resp.status_code == 204, resp.text


@contextlib.contextmanager
def small_filesystem(path: Path, size: int) -> Iterator[bool]:
    """A tmpfs of `size` bytes mounted on `path` (root only); yields whether it is mounted."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        yield False
        return
    mount = ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)]
    mounted = subprocess.run(mount, capture_output=True, check=False).returncode == 0
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


@pytest.fixture(scope="session")
def shelter(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Iterator[Shelter]:
    base = int(os.environ.get("RELIABILITY_PORT_BASE", "9400"))
    var = tmp_path_factory.mktemp("reliability")
    ports = Ports.from_base(base, base + 10)
    proxy_url = f"http://127.0.0.1:{base + 5}"
    settings = {**SETTINGS, "camera_ingest": {**SETTINGS["camera_ingest"],
                                              "INGEST_CLASSIFIER_URL": proxy_url}}  # fmt: skip
    stack = LocalStack(
        var_dir=var,
        ports=ports,
        api_key=ADMIN_KEY,
        photos=ROOT / "data" / "sample",
        model_dir=model_dir,
        ready_timeout_s=240,
        extra_env=settings,
        with_sim=False,
    )
    proxy = Child("fault-proxy", log_path=var / "log" / "fault-proxy.log")
    upstream = f"http://127.0.0.1:{ports.classifier}"
    with small_filesystem(var / "frames", ARCHIVE_FS_BYTES) as mounted:
        proxy.launch(
            [sys.executable, "-m", "uvicorn", "tests.reliability.fault_proxy:create_app",
             "--factory", "--host", "127.0.0.1", "--port", str(base + 5), "--no-access-log"],
            {"FAULT_PROXY_UPSTREAM": upstream, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        try:
            stack.start()
            shelter = Shelter(stack, proxy, proxy_url, var / "frames" if mounted else Path())
            eventually(lambda: not shelter.not_ready(), timeout=60, what="every /readyz")
            yield shelter
        finally:
            stack.stop()
            proxy.stop()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if LOAD:
        terminalreporter.section("load through the gateway")
        for name, value in LOAD.items():
            shown = f"{value:.1f}" if isinstance(value, float) else value
            terminalreporter.write_line(f"{name}: {shown}")
    if not ROWS:
        return
    table = format_table(ROWS)
    terminalreporter.section("fault table (docs/reliability.md)")
    for line in table.splitlines():
        terminalreporter.write_line(line)
    out = ROOT / "build" / "reliability"
    out.mkdir(parents=True, exist_ok=True)
    (out / "faults.md").write_text(table + "\n")
    terminalreporter.write_line(f"(also written to {out / 'faults.md'})")


def format_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for row in rows:
        cells = [row["fault"], *(_cell(row[h]) for h in HEADER[1:])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    return f"{value:.1f}" if isinstance(value, float) else str(value)
