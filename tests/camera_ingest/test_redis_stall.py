"""A stalled Redis (SIGSTOP: the socket accepts, nothing answers) gives a push a prompt 503 +
Retry-After, not a hang: every command on the request path times out after `store.TIMEOUT_S`
and is never retried, so the answer comes well inside the gateway's frame timeout. The workers'
blocking XREADGROUP keeps a client with a longer timeout of its own."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from camera_ingest import store
from camera_ingest.main import create_app
from tests.camera_ingest.conftest import Downstream, add_camera, app_client, fast_settings, jpeg
from tests.servers import RedisServer

pytestmark = pytest.mark.anyio
# Two commands timing out in turn, with room for a loaded machine; the old 5 s timeout fails it.
BOUND_S = 3 * store.TIMEOUT_S


async def test_a_push_during_a_redis_stall_is_a_prompt_503(
    tmp_path: Path, downstream: Downstream
) -> None:
    assert store.TIMEOUT_S < store.BLOCKING_TIMEOUT_S
    server = RedisServer(tmp_path / "redis").start()
    try:
        settings = fast_settings(server.url, downstream.url, worker_enabled=False)
        async with app_client(create_app(settings)) as client:
            await add_camera(client, "stall")
            assert server.proc is not None
            os.kill(server.proc.pid, signal.SIGSTOP)
            try:
                started = time.monotonic()
                response = await client.put(
                    "/v1/cameras/stall/frame",
                    content=jpeg(5),
                    headers={"Content-Type": "image/jpeg"},
                )
                elapsed = time.monotonic() - started
            finally:
                os.kill(server.proc.pid, signal.SIGCONT)
            assert response.status_code == 503, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
            assert int(response.headers["retry-after"]) >= 1
            assert elapsed < BOUND_S, f"answered after {elapsed:.1f} s: a hang, not a prompt 503"
    finally:
        server.stop()
