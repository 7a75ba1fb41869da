"""A request the HTTP parser refuses gets problem+json from the kit's uvicorn protocol."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from shelter_kit.wire import UVICORN_HTTP


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
    )
    await send({"type": "http.response.body", "body": b"ok"})


def _serve(http: str) -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(_app, http=http, log_level="critical", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield port
    server.should_exit = True
    thread.join(10)
    sock.close()


@pytest.fixture
def kit_port() -> Iterator[int]:
    yield from _serve(UVICORN_HTTP)


@pytest.fixture
def plain_port() -> Iterator[int]:
    yield from _serve("httptools")


def _raw(port: int, request: bytes) -> tuple[str, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(request)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return lines[0], {k.lower(): v for k, v in headers.items()}, body


HUGE_URL = b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"


def test_a_huge_url_is_a_problem_json_400(kit_port: int) -> None:
    status, headers, body = _raw(kit_port, HUGE_URL)
    assert status == "HTTP/1.1 400 Bad Request"
    assert headers["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["status"] == 400
    assert problem["type"].endswith("/bad-request")
    assert int(headers["content-length"]) == len(body)


def test_a_malformed_request_line_is_a_problem_json_400(kit_port: int) -> None:
    status, headers, body = _raw(kit_port, b"NOT HTTP AT ALL\r\n\r\n")
    assert headers["content-type"] == "application/problem+json"
    assert status.startswith("HTTP/1.1 400")
    assert json.loads(body)["title"] == "Bad request"


def test_a_good_request_is_served_as_before(kit_port: int) -> None:
    status, _, body = _raw(kit_port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status == "HTTP/1.1 200 OK"
    assert body == b"ok"


def test_uvicorns_own_protocol_answers_text_plain(plain_port: int) -> None:
    """The reason for the kit's protocol: without it the refusal is not problem+json."""
    _, headers, _ = _raw(plain_port, HUGE_URL)
    assert headers["content-type"].startswith("text/plain")
