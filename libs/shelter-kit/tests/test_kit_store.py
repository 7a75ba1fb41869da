"""The Redis client against a real redis-server: reconnect once, never retry a timeout."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.exceptions import ResponseError

from shelter_kit.errors import StoreUnavailable
from shelter_kit.store import connect, ping, translated, unavailable
from tests.servers import RedisServer

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    srv = RedisServer(tmp_path, persist=True).start()
    yield srv
    srv.stop()


@pytest.fixture
async def client(server: RedisServer) -> AsyncIterator[object]:
    redis = connect(server.url, timeout_s=0.5)
    yield redis
    await redis.aclose()


async def test_a_restart_costs_no_error(server: RedisServer, client: object) -> None:
    from redis.asyncio import Redis

    assert isinstance(client, Redis)
    await client.set("k", "v")
    # several pooled connections, all of which go stale in the restart
    await __import__("asyncio").gather(*(client.get("k") for _ in range(5)))
    server.stop()
    server.start()
    assert await client.get("k") == b"v"  # AOF kept it; the stale connection was retried once


@pytest.fixture
def silent_peer() -> Iterator[tuple[int, list[socket.socket]]]:
    """A TCP peer that accepts and never answers: a stalled Redis, counting its connections."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = listener.accept()
                accepted.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], accepted
    listener.close()
    for conn in accepted:
        conn.close()


async def test_a_stalled_redis_is_not_retried(silent_peer: tuple[int, list[socket.socket]]) -> None:
    port, accepted = silent_peer
    client = connect(f"redis://127.0.0.1:{port}/0", timeout_s=0.3)
    try:
        with pytest.raises(StoreUnavailable, match="Timeout"):
            await translated(client.get)("k")
        assert await ping(client) is not None
    finally:
        await client.aclose()
    # redis-py's default Retry would have opened a second connection to try again
    assert len(accepted) == 2  # one for GET, one for the readiness ping: no retries


def test_which_replies_mean_unavailable() -> None:
    assert isinstance(unavailable(ResponseError("LOADING Redis is loading")), StoreUnavailable)
    assert isinstance(unavailable(ResponseError("READONLY You can't write")), StoreUnavailable)
    assert unavailable(ResponseError("ERR wrong number of arguments")) is None
    assert unavailable(ValueError("x")) is None
