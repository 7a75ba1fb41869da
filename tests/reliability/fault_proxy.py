"""A misbehaving classifier: an HTTP proxy in front of the real one that the suite switches between
passing requests through, answering 500 to each, and hanging (holding each request unanswered
until it is switched back, when the held requests are passed through).

Why a proxy and not a fault setting on the classifier: the production code carries no test hook,
and the fault is what a caller really sees from a sick upstream (a 500 problem, a socket that never
answers). It is its own process (`uvicorn tests.reliability.fault_proxy:create_app --factory`),
configured by FAULT_PROXY_UPSTREAM, switched by `PUT /_fault/<mode>`. A bare ASGI app over httpx,
because 40 lines need no framework (and only the services' api.py/main.py import FastAPI).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import httpx

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]
MODES = ("pass", "error", "hang")
HOP_BY_HOP = {b"connection", b"keep-alive", b"transfer-encoding", b"content-length", b"host"}
PROBLEM = b'{"type":"about:blank","title":"injected fault","status":500}'


def create_app() -> App:
    upstream = os.environ["FAULT_PROXY_UPSTREAM"]
    client = httpx.AsyncClient(base_url=upstream, timeout=60)
    state = {"mode": "pass"}
    released = asyncio.Event()
    released.set()

    async def answer(send: Send, status: int, body: bytes, headers: list[Any]) -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"]
        if path.startswith("/_fault/"):
            mode = path.removeprefix("/_fault/")
            if mode not in MODES:
                await answer(send, 404, b"unknown mode", [])
                return
            state["mode"] = mode
            released.clear() if mode == "hang" else released.set()
            await answer(send, 204, b"", [])
            return
        if state["mode"] == "error" and not path.endswith("z"):  # healthz/readyz stay honest
            await answer(send, 500, PROBLEM, [(b"content-type", b"application/problem+json")])
            return
        if state["mode"] == "hang":
            await released.wait()
        query = scope.get("query_string", b"").decode()
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in HOP_BY_HOP]
        url = path + (f"?{query}" if query else "")
        try:
            resp = await client.request(scope["method"], url, content=body, headers=headers)
        except httpx.HTTPError:
            await answer(send, 502, b"", [])
            return
        out = [(k, v) for k, v in resp.headers.raw if k.lower() not in HOP_BY_HOP]
        await answer(send, resp.status_code, resp.content, out)

    return app
