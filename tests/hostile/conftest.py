"""The whole stack as `make run` starts it (its own launcher, free ports, no simulator), once for
every hostile test, and a raw HTTP client that sends what httpx would tidy up (`..`, `%00`).

`Target` is one service as a client reaches it: directly, or through the gateway with the admin
key. `rss_mb(name)` reads the real process's resident memory from /proc.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from stack.local import LocalStack
from stack.ports import Ports
from tests.servers import ROOT, free_port

ADMIN_KEY = "hostile-suite-admin-key"
SERVICES = ("camera-ingest", "classifier", "aggregator", "batch", "gateway")


@dataclass
class Answer:
    status: int
    content_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Stack:
    launched: LocalStack
    urls: dict[str, str]
    pids: dict[str, int]

    def headers(self, name: str) -> dict[str, str]:
        return {"X-API-Key": ADMIN_KEY} if name == "gateway" else {}

    def rss_mb(self, name: str) -> float:
        for line in Path(f"/proc/{self.pids[name]}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise AssertionError(f"no VmRSS for {name}")

    def up(self, name: str) -> bool:
        return httpx.get(self.urls[name] + "/healthz", timeout=10).status_code == 200

    def send(
        self,
        name: str,
        method: str,
        target: str,
        *,
        body: bytes | None = None,
        content_type: str | None = None,
        chunked: bool = False,
    ) -> Answer:
        """One request with `target` sent verbatim (no normalisation, no re-encoding)."""
        host, port = self.urls[name].removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        headers = self.headers(name)
        if content_type is not None:
            headers["Content-Type"] = content_type
        try:
            conn.putrequest(method, target, skip_accept_encoding=True)
            for key, value in headers.items():
                conn.putheader(key, value)
            if chunked:
                conn.putheader("Transfer-Encoding", "chunked")
            elif body is not None or method in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Length", str(len(body or b"")))
            conn.endheaders()
            if body:
                _write(conn, body, chunked=chunked)
            elif chunked:
                conn.send(b"0\r\n\r\n")
            response = conn.getresponse()
            return Answer(
                response.status,
                response.getheader("content-type", ""),
                response.read(),
                {k.lower(): v for k, v in response.getheaders()},
            )
        finally:
            conn.close()


def _write(conn: http.client.HTTPConnection, body: bytes, *, chunked: bool) -> None:
    """Write the body in 1 MiB pieces; a server that answered early and closed ends it."""
    view = memoryview(body)
    try:
        for start in range(0, len(body), 1 << 20):
            piece = view[start : start + (1 << 20)]
            conn.send(b"%x\r\n" % len(piece) + piece + b"\r\n" if chunked else piece)
        if chunked:
            conn.send(b"0\r\n\r\n")
    except (TimeoutError, BrokenPipeError, ConnectionResetError):
        pass  # the answer (a 413) is read next


def send_big(stack: Stack, name: str, method: str, target: str, **kw: Any) -> Answer:
    """`send` of a big body, its writes on a thread, so an early answer is read while the
    client still writes (as a real client reading its socket would)."""
    result: list[Answer | BaseException] = []

    def run() -> None:
        try:
            result.append(stack.send(name, method, target, **kw))
        except BaseException as exc:
            result.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(timeout=120)
    assert result, f"{method} {target} on {name}: no answer within 120 s"
    if isinstance(result[0], BaseException):
        raise result[0]
    return result[0]


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Iterator[Stack]:
    ports = Ports(*(free_port() for _ in range(7)))
    launched = LocalStack(
        var_dir=tmp_path_factory.mktemp("hostile"),
        ports=ports,
        api_key=ADMIN_KEY,
        photos=ROOT / "data" / "sample",
        model_dir=model_dir,
        ready_timeout_s=240,
        with_sim=False,
        # Hostile and fuzzed requests come by the thousand from one address, many with wrong
        # keys on purpose (schemathesis' ignored-auth check expects their 401/403): the
        # per-address brute-force bucket would answer 429 instead. tests/gateway/test_limits.py
        # proves that bucket; here it is opened wide so each answer is the route's own.
        extra_env={"gateway": {"GATEWAY_RATE_ADDRESS_RPS": "100000",
                               "GATEWAY_RATE_ADDRESS_BURST": "1000000"}},
    )  # fmt: skip
    try:
        launched.start()
        by_name = {child.name: child for child in launched.children}
        pids = {name: by_name[name].proc.pid for name in SERVICES}  # type: ignore[union-attr]
        urls = {name: f"http://127.0.0.1:{ports.by_process()[name]}" for name in SERVICES}
        yield Stack(launched, urls, pids)
    finally:
        launched.stop()
