"""Real HTTP upstreams for the gateway tests: small Starlette apps served by uvicorn in a thread.

Each echoes what it received (method, path, query, headers, body) and, on request, answers with
a given status, hangs, streams server-sent events, or drips a long download chunk by chunk.
The gateway talks real HTTP to them.
`kit_upstream_app` is built like a real service (shelter-kit installed), to see what its
problems look like behind the gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from shelter_kit import install
from tests.servers import free_port, wait_until

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
UPSTREAM_NAMES = ("camera-ingest", "classifier", "aggregator", "batch")


@dataclass
class Control:
    """What the tests steer and observe across the upstream threads."""

    not_ready: set[str] = field(default_factory=set)
    release: threading.Event = field(default_factory=threading.Event)
    sse_release: threading.Event = field(default_factory=threading.Event)
    sse_finished: threading.Event = field(default_factory=threading.Event)
    sse_gap_s: float = 0.0  # the upstream's own pause before its second event
    seen: list[tuple[str, str]] = field(default_factory=list)  # (method, path) of each echo
    readyz_hits: Counter[str] = field(default_factory=Counter)  # /readyz probes per upstream
    body_started: threading.Event = field(default_factory=threading.Event)  # a first body chunk
    drip_gap_s: float = 0.1  # ?drip=N: the pause before each of the N chunks


async def wait_for(event: threading.Event, deadline_s: float) -> None:
    """Wait for a test's signal (set from another thread), at most `deadline_s`."""
    await asyncio.to_thread(event.wait, deadline_s)


def openapi_doc(name: str) -> dict[str, Any]:
    ok: dict[str, Any] = {"200": {"description": "ok", "content": {"application/json": {"schema": {
        "$ref": "#/components/schemas/Problem"}}}}}  # fmt: skip
    by_service: dict[str, dict[str, Any]] = {
        "camera-ingest": {"/v1/cameras/{camera_id}/frame": {"put": {"responses": ok}}},
        "aggregator": {"/v1/spaces/{space_id}": {"get": {"responses": ok, "operationId": "get"}},
                       "/v1/internal-only": {"get": {"responses": ok}}},
        "classifier": {"/v1/predict": {"post": {"responses": ok}},
                       "/v2/models/{name}/infer": {"post": {"responses": ok}}},
        "batch": {"/v1/batch/jobs": {"post": {"responses": ok}, "get": {"responses": ok}},
                  "/v1/batch/jobs/{job_id}/events": {"get": {"responses": ok}}},
    }  # fmt: skip
    paths = by_service[name]
    paths["/healthz"] = {"get": {"responses": ok}}
    schemas = {"Problem": {"type": "object", "title": f"{name} problem"},
               "Shared": {"type": "string"}}  # fmt: skip
    return {"openapi": "3.1.0", "info": {"title": name, "version": "1"}, "paths": paths,
            "components": {"schemas": schemas}}  # fmt: skip


def upstream_app(name: str, control: Control) -> Starlette:
    async def sse() -> AsyncIterator[bytes]:
        yield b"id: 1\nevent: space\ndata: first\n\n"
        await wait_for(control.sse_release, 10)
        await asyncio.sleep(control.sse_gap_s)
        yield b"id: 2\nevent: space\ndata: second\n\n"
        control.sse_finished.set()

    async def drip(chunks: int) -> AsyncIterator[bytes]:
        for n in range(chunks):
            await asyncio.sleep(control.drip_gap_s)
            yield f"row {n}\n".encode()

    async def handle(request: Request) -> Response:
        path, query = request.url.path, request.query_params
        if path == "/readyz":
            control.readyz_hits[name] += 1
            return JSONResponse({"status": name}, 503 if name in control.not_ready else 200)
        if path == "/openapi.json":
            return JSONResponse(openapi_doc(name))
        if "hang" in path.split("/") or "hang" in query:  # wait for the test's release
            await wait_for(control.release, 30)
        if path.endswith("/events") and "echo" not in query:  # ?echo=1: answer like the rest
            return StreamingResponse(sse(), media_type="text/event-stream")
        if "drip" in query:  # a long download: N small chunks, each after drip_gap_s
            disposition = {"content-disposition": 'attachment; filename="results.csv"'}
            return StreamingResponse(drip(int(query["drip"])), media_type="text/csv",
                                     headers=disposition)  # fmt: skip
        headers = {k: v for k, v in (("location", query.get("location")),
                                     ("retry-after", query.get("retry_after"))) if v}  # fmt: skip
        control.seen.append((request.method, path))
        received = bytearray()
        try:
            async for chunk in request.stream():  # as it arrives: a test sees the first chunk
                if chunk:
                    control.body_started.set()
                received += chunk
        except ClientDisconnect:  # the gateway gave up on an oversize upload: expected
            return Response(status_code=499)
        body = bytes(received)
        return JSONResponse(
            {"service": name, "method": request.method, "path": path,
             "raw_path": request.scope["raw_path"].decode(), "query": request.url.query,
             "headers": dict(request.headers), "body_len": len(body),
             "body_head": body[:16].decode("latin-1")},
            int(query.get("status", "200")), headers=headers,
        )  # fmt: skip

    return Starlette(routes=[Route("/{rest:path}", handle, methods=METHODS)])


class ModelNotFound(Exception):
    pass


def kit_upstream_app() -> FastAPI:
    """An upstream built like the real services (shelter-kit installed): its problems show
    what the gateway passes on (request id, public path as `instance`)."""
    app = FastAPI()
    install(app, status_map={ModelNotFound: 404}, registry=CollectorRegistry())

    @app.get("/v1/models/{name}")
    async def model(name: str, top: int = 1) -> dict[str, Any]:
        if name == "missing":
            raise ModelNotFound(f"no model {name!r}")
        if name == "bug":
            raise RuntimeError("upstream internals")
        return {"name": name, "top": top}

    return app


class ThreadServer:
    """An ASGI app under a real uvicorn server on a free loopback port, in a thread."""

    def __init__(self, app: Any, *, proxy_headers: bool = True) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", ws="none",
            loop="asyncio", lifespan="on", timeout_graceful_shutdown=2,
            proxy_headers=proxy_headers,
        )  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ThreadServer:
        self.thread.start()
        wait_until(lambda: self.server.started, timeout=20, what=f"server on {self.port}")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


class DroppingFront:
    """A TCP front for an upstream that closes the first `drops` connections at once (the
    gateway sees a connection error) and pipes every later one to `target_port`."""

    def __init__(self, target_port: int, *, drops: int) -> None:
        self.target_port = target_port
        self.drops = drops
        self.accepted = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)  # the accept loop looks at _closed this often
        self.port = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self._closed = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> DroppingFront:
        self._spawn(self._accept_loop)
        return self

    def _spawn(self, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            self.accepted += 1
            if self.accepted <= self.drops:
                conn.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self._sockets += [conn, upstream]
            self._spawn(self._pipe, conn, upstream)
            self._spawn(self._pipe, upstream, conn)

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def stop(self) -> None:
        self._closed.set()
        if self._threads:  # the accept loop: no new connection after this
            self._threads[0].join(timeout=5)
        self._listener.close()
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in self._threads:
            thread.join(timeout=5)
