"""Fixtures for camera-ingest: a real small downstream HTTP server (classifier + aggregator
contracts, recording every call, told to fail on demand) and the ingest app in-process with its
lifespan running, against the real Redis of `redis_url`. Every app of these tests archives into
the test's own folder (`archive_dir`, set as INGEST_ARCHIVE_DIR), never into the repo's var/."""

from __future__ import annotations

import base64
import contextlib
import io
import ssl
import struct
import threading
import time
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from camera_ingest.config import Settings
from camera_ingest.main import create_app
from tests.servers import free_port, wait_until


@dataclass
class Downstream:
    """Classifier and aggregator contracts on one real HTTP server. `classifier_status` and
    `aggregator_status` set what they answer (200/201 = behave; anything else = that error);
    the classifier answers 500 for any image in `poison` (a frame it cannot process).
    `during_predict` / `during_observe` run (in the server's thread) while a call is handled."""

    classifier_status: int = 200
    poison: set[bytes] = field(default_factory=set)
    aggregator_status: int = 201
    during_predict: Callable[[], None] | None = None
    during_observe: Callable[[], None] | None = None
    predictions: list[dict[str, Any]] = field(default_factory=list)
    observations: dict[str, dict[str, Any]] = field(default_factory=dict)
    observation_posts: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    async def predict(self, request: Request) -> JSONResponse:
        body = await request.body()
        if self.during_predict:
            self.during_predict()
        poisoned = body in self.poison
        self.predictions.append(
            {"size": len(body), "headers": dict(request.headers), "poison": poisoned}
        )
        if poisoned:
            return JSONResponse({"detail": "model error on this image"}, status_code=500)
        if self.classifier_status != 200:
            return JSONResponse({"detail": "told to fail"}, status_code=self.classifier_status)
        return JSONResponse(
            {
                "label": "cat",
                "probabilities": {"cat": 0.9, "dog": 0.05, "other": 0.05},
                "model": "test-model",
                "version": "7",
                "prediction_id": "p",
            }
        )

    async def observe(self, request: Request) -> JSONResponse:
        body = await request.json()
        if self.during_observe:
            self.during_observe()
        self.observation_posts.append({"body": body, "headers": dict(request.headers)})
        if self.aggregator_status not in (200, 201):
            return JSONResponse({"detail": "told to fail"}, status_code=self.aggregator_status)
        duplicate = body["frame_id"] in self.observations
        self.observations.setdefault(body["frame_id"], body)
        return JSONResponse(
            {"frame_id": body["frame_id"], "duplicate": duplicate},
            status_code=200 if duplicate else 201,
        )


class ThreadServer:
    """A Starlette app under a real uvicorn, in a thread, on a free loopback port."""

    def __init__(self, app: Starlette) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ThreadServer:
        self.thread.start()
        wait_until(lambda: self.server.started, timeout=10, what="downstream server")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def downstream() -> Iterator[Downstream]:
    ds = Downstream()
    app = Starlette(
        routes=[
            Route("/v1/predict", ds.predict, methods=["POST"]),
            Route("/v1/observations", ds.observe, methods=["POST"]),
        ]
    )
    with ThreadServer(app) as server:
        ds.url = server.url
        yield ds


class SnapshotServer:
    """A tiny threaded HTTP camera on `host`, recording every request (path and headers).

    `/snap.jpg` answers a fresh JPEG, or 401 when `credentials` is set and the request's basic
    Authorization header does not carry them; `/missing` 404; `/boom` 500; `/moved` a 302 to
    `redirect_to`."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        credentials: tuple[str, str] | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.credentials = credentials
        self.redirect_to = ""
        self.requests: list[dict[str, Any]] = []
        self.served = 0
        self.httpd = ThreadingHTTPServer((host, 0), self._handler())
        if tls is not None:  # https: each accepted connection does the TLS handshake
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.scheme = "https" if tls else "http"
        self.host, self.port = host, self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str = "/snap.jpg", userinfo: str = "") -> str:
        return f"{self.scheme}://{userinfo + '@' if userinfo else ''}{self.host}:{self.port}{path}"

    def authorized(self, header: str | None) -> bool:
        if self.credentials is None:
            return True
        token = base64.b64encode(":".join(self.credentials).encode()).decode()
        return header == f"Basic {token}"

    def answer(self, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        self.requests.append({"path": path, "headers": headers})
        if path == "/missing":
            return 404, {}, b"no such snapshot"
        if path == "/boom":
            return 500, {}, b"camera firmware crashed"
        if path == "/moved":
            return 302, {"Location": self.redirect_to}, b""
        if not self.authorized(headers.get("Authorization")):
            return 401, {"WWW-Authenticate": 'Basic realm="camera"'}, b"who are you"
        self.served += 1
        return 200, {"Content-Type": "image/jpeg"}, jpeg(self.served)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                status, headers, body = server.answer(self.path, dict(self.headers.items()))
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: the test reads `requests`

        return Handler

    def __enter__(self) -> SnapshotServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


@pytest.fixture(autouse=True)
def archive_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The archive folder of every app this test builds (read by `Settings()` from the env)."""
    folder = tmp_path / "frames"
    monkeypatch.setenv("INGEST_ARCHIVE_DIR", str(folder))
    return folder


def fast_settings(redis_url: str, downstream_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "redis_url": redis_url,
        "classifier_url": downstream_url,
        "aggregator_url": downstream_url,
        "retry_base_s": 0.02,
        "retry_max_s": 0.2,
        "breaker_failures": 3,
        "max_server_errors": 3,  # <= breaker_failures, as the defaults (5, 5): see config.py
        "breaker_reset_s": 0.3,
        "read_block_ms": 100,
        "reclaim_min_idle_s": 1.0,
        "reclaim_interval_s": 0.2,
        "poll_tick_s": 0.05,
        "poll_timeout_s": 1.0,
        "shutdown_grace_s": 1.0,
        "consumer_name": f"t-{time.time_ns()}",
    }
    return Settings(**{**values, **overrides})


@pytest.fixture
def settings(redis_url: str, downstream: Downstream) -> Settings:
    return fast_settings(redis_url, downstream.url)


# Snapshot URLs may reach only public addresses by default (camera_ingest/egress.py); the test
# cameras listen on loopback, so the tests that poll them allow it, as `make run` does.
LOOPBACK = "127.0.0.1/32"


@pytest.fixture
def loopback_settings(redis_url: str, downstream: Downstream) -> Settings:
    return fast_settings(
        redis_url, downstream.url, snapshot_allow_networks=LOOPBACK, poll_offline_after=2
    )


@contextlib.asynccontextmanager
async def app_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app in-process with its lifespan (Redis, workers, poller) running."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as c:
            yield c


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(create_app(settings)) as c:
        yield c


def jpeg(seed: int = 0, size: tuple[int, int] = (32, 24)) -> bytes:
    """A small valid JPEG whose bytes differ with `seed`."""
    img = Image.new("RGB", size, (seed % 256, (seed // 256) % 256, 90))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def png(size: tuple[int, int] = (32, 24)) -> bytes:
    """A small valid PNG."""
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 90, 40)).save(buf, "PNG")
    return buf.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A valid PNG of a few dozen bytes whose header claims `width` x `height` pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


async def add_camera(client: httpx.AsyncClient, camera_id: str, **fields: Any) -> dict[str, Any]:
    body = {"id": camera_id, "space_id": fields.pop("space_id", f"space-{camera_id}"), **fields}
    response = await client.post("/v1/cameras", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def eventually(predicate: Any, *, within: float = 10.0, what: str = "condition") -> Any:
    """Await `predicate()` until it returns something truthy, or fail at the deadline."""
    import anyio

    deadline = time.monotonic() + within
    last: Any = None
    while time.monotonic() < deadline:
        last = await predicate()
        if last:
            return last
        await anyio.sleep(0.02)
    raise AssertionError(f"timed out after {within}s waiting for {what}; last value {last!r}")


async def frame_status(client: httpx.AsyncClient, frame_id: str) -> str:
    response = await client.get(f"/v1/frames/{frame_id}")
    assert response.status_code == 200, response.text
    return response.json()["status"]  # type: ignore[no-any-return]


async def push(
    client: httpx.AsyncClient, camera: str, data: bytes, content_type: str = "image/jpeg"
) -> str:
    """Push one frame; its id."""
    response = await client.put(
        f"/v1/cameras/{camera}/frame", content=data, headers={"Content-Type": content_type}
    )
    assert response.status_code == 202, response.text
    return response.json()["frame_id"]  # type: ignore[no-any-return]


async def wait_delivered(client: httpx.AsyncClient, *frame_ids: str) -> None:
    async def all_delivered() -> bool:
        return all([await frame_status(client, f) == "delivered" for f in frame_ids])

    await eventually(all_delivered, what=f"{len(frame_ids)} frames delivered")


def files_on_disk(folder: Path) -> dict[str, int]:
    """Every file under `folder` (temporary ones too) and its real size."""
    found = {}
    for path in folder.rglob("*"):
        with contextlib.suppress(FileNotFoundError):  # renamed or deleted while we looked
            if path.is_file():
                found[str(path.relative_to(folder))] = path.stat().st_size
    return found
