"""The servers the peer bench drives, each started the way it is run for real.

- `classifier`: this project's service (`uvicorn classifier.main:create_app --factory`, every
  model under build/models loaded), POST /v1/predict with a raw JPEG body.
- `classifier@REV`: the same service from an older commit (`git archive REV`), for A/B runs.
- `gateway`: the gateway in front of the classifier (POST /api/v1/classifier/predict).
- `bentoml`: bench/peers/bento_service.py under `bentoml serve` in build/bench-venv, POST
  /classify with a multipart file part (BentoML's own input type for files).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.peers.loadgen import multipart_post, raw_post
from stack.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
BENCH_VENV = ROOT / "build" / "bench-venv"
BENCH_KEY = "bench-admin-key-not-a-secret"  # the bench's own gateway, on loopback only


@dataclass
class Server:
    name: str
    argv: list[str]
    env: dict[str, str]
    ready_path: str
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    started_s: float = 0.0  # process start to ready

    def start(self, timeout: float = 180) -> Server:
        argv = [a.replace("{port}", str(self.port)) for a in self.argv]
        log = (ROOT / "build" / "bench" / f"{self.name.replace('@', '-')}.log").open("ab")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**os.environ, **self.env},
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} (see its log)")
            try:
                if httpx.get(
                    f"http://127.0.0.1:{self.port}{self.ready_path}", timeout=1
                ).is_success:
                    self.started_s = time.perf_counter() - t0
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"{self.name} not ready after {timeout} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()

    def request(self, jpeg: bytes, model: str) -> bytes:
        if self.name == "bentoml":
            return multipart_post("/classify", "images", jpeg)
        if self.name == "gateway":
            key = f"X-API-Key: {BENCH_KEY}\r\n"
            return raw_post(f"/api/v1/classifier/predict?model={model}", jpeg, headers=key)
        return raw_post(f"/v1/predict?model={model}", jpeg)


def uvicorn_argv(python: str, package: str = "classifier") -> list[str]:
    return [
        python,
        "-m",
        "uvicorn",
        f"{package}.main:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--no-access-log",
    ]


def classifier(model_dir: Path, env: dict[str, str] | None = None) -> Server:
    base = {
        "CLASSIFIER_MODEL_DIR": str(model_dir),
        "LOG_LEVEL": "WARNING",
        "CLASSIFIER_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT / "services" / "classifier"),
    }
    return Server("classifier", uvicorn_argv(sys.executable), {**base, **(env or {})}, "/readyz")


def classifier_at(rev: str, model_dir: Path) -> Server:
    """The classifier as it was at `rev` (its folder extracted under build/bench/)."""
    dest = ROOT / "build" / "bench" / f"classifier-{rev}"
    if not dest.exists():
        dest.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "archive", rev, "services/classifier"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    server = classifier(model_dir)
    server.name = f"classifier@{rev}"
    server.env["PYTHONPATH"] = str(dest / "services" / "classifier")
    return server


def bentoml(model: Path, *, workers: int, threads: int, batch: int, latency_ms: int) -> Server:
    env = {
        "BENCH_MODEL": str(model),
        "BENCH_BENTO_WORKERS": str(workers),
        "BENCH_BENTO_THREADS": str(threads),
        "BENCH_BENTO_BATCH": str(batch),
        "BENCH_BENTO_LATENCY_MS": str(latency_ms),
        "BENTOML_HOME": str(ROOT / "build" / "bench" / "bentoml-home"),
        "BENTOML_DO_NOT_TRACK": "True",
    }
    argv = [
        str(BENCH_VENV / "bin" / "bentoml"),
        "serve",
        "bench.peers.bento_service:PetClassifier",
        "--port",
        "{port}",
        "--host",
        "127.0.0.1",
    ]
    return Server("bentoml", argv, env, "/readyz")


def gateway(classifier_port: int, redis_port: int) -> Server:
    """The gateway in front of `classifier_port` (its other upstreams absent: ready = /healthz),
    rate limits lifted so they do not cap the load."""
    env = {
        "GATEWAY_REDIS_URL": f"redis://127.0.0.1:{redis_port}/2",
        "GATEWAY_BOOTSTRAP_ADMIN_KEY": BENCH_KEY,
        "GATEWAY_CLASSIFIER_URL": f"http://127.0.0.1:{classifier_port}",
        "GATEWAY_RATE_ADMIN_RPS": "100000",
        "GATEWAY_RATE_ADMIN_BURST": "100000",
        "GATEWAY_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT / "services" / "gateway"),
    }
    return Server("gateway", uvicorn_argv(sys.executable, "gateway"), env, "/healthz")
