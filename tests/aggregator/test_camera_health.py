"""Camera health alerts: the pure rules, their reconciliation in Redis, and the lifespan's poll of
a real HTTP stand-in for camera-ingest's `GET /v1/cameras`."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from aggregator import alerting
from aggregator.camera_health import CameraHealth, Seen, evaluate
from aggregator.ingest import IngestClient
from tests.aggregator.conftest import T0, eventually
from tests.aggregator.test_alerts import alerts
from tests.servers import free_port

WINDOW = 60.0


def offline(cam: str = "cam-1", *, for_s: float, space: str = "k1") -> CameraHealth:
    since = T0 - timedelta(seconds=for_s)
    return CameraHealth(cam, space, online=False, offline_since=since, last_error="timed out")


def rules(cameras: list[CameraHealth], seen: dict[str, Seen] | None = None, at: float = 0.0):
    now = T0 + timedelta(seconds=at)
    return evaluate(cameras=cameras, seen=seen or {}, now=now, offline_after_s=WINDOW)


def test_offline_past_the_threshold_raises_not_before():
    assert not rules([offline(for_s=WINDOW)])[0]
    held = rules([offline(for_s=WINDOW + 1)])[0]
    assert list(held) == ["camera_offline:k1:cam-1"]
    assert "timed out" in held["camera_offline:k1:cam-1"].message


def test_online_or_gone_holds_nothing():
    back = CameraHealth("cam-1", "k1", online=True, offline_since=T0 - timedelta(hours=1))
    assert not rules([back])[0]  # the state decides, not a leftover offline_since
    assert rules([], {"cam-1": Seen(3)}) == ({}, {})


def test_dead_count_growth_raises_until_a_quiet_window():
    cam = CameraHealth("cam-1", "k1", frames_dead=4, last_dead_reason="classifier 422")
    held, seen = rules([cam])
    assert not held  # first sight: the baseline
    assert seen == {"cam-1": Seen(4)}
    grown = CameraHealth("cam-1", "k1", frames_dead=5, last_dead_reason="classifier 422")
    held, seen = rules([grown], seen, at=10)
    assert "classifier 422" in held["frames_dead:k1:cam-1"].message
    assert rules([grown], seen, at=10 + WINDOW)[0]  # still within the window
    assert not rules([grown], seen, at=11 + WINDOW)[0]  # no new dead frame for the window


@pytest.mark.anyio
async def test_unreachable_ingest_changes_no_alert(client_for):
    client, app = await client_for(camera_offline_alert_s=WINDOW)
    sh = app.state.shelter
    await alerting.reconcile_cameras(sh, [offline(for_s=WINDOW + 5)])
    assert ("camera_offline", "k1", "cam-1") in await alerts(client, "active")
    dead = IngestClient(base_url=f"http://127.0.0.1:{free_port()}", timeout_s=0.5)
    try:
        await alerting.check_cameras(sh, dead.cameras)
    finally:
        await dead.close()
    assert ("camera_offline", "k1", "cam-1") in await alerts(client, "active")


@pytest.fixture
def ingest_stand_in() -> Iterator[tuple[str, dict[str, Any]]]:
    """A real HTTP server answering `GET /v1/cameras` with whatever `body` holds now."""
    body: dict[str, Any] = {"cameras": []}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            payload = json.dumps(body).encode()
            self.send_response(200 if self.path == "/v1/cameras" else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", body
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def ingest_camera(state: str, *, offline_for_s: float = 0.0) -> dict[str, Any]:
    """A camera as camera-ingest answers it (with fields the aggregator does not read)."""
    since = (T0 - timedelta(seconds=offline_for_s)).isoformat() if state == "offline" else None
    status = {"state": state, "offline_since": since, "last_error": "connect refused",
              "consecutive_errors": 7, "frames": {"accepted": 3}, "frames_dead": 0}  # fmt: skip
    return {"id": "cam-9", "space_id": "k9", "mode": "poll", "enabled": True, "status": status}


@pytest.mark.anyio
async def test_the_lifespan_polls_ingest_and_raises_then_clears_camera_offline(
    client_for, ingest_stand_in
):
    url, body = ingest_stand_in
    client, _ = await client_for(ingest_url=url, camera_poll_s=0.05, camera_offline_alert_s=WINDOW)
    body["cameras"] = [ingest_camera("offline", offline_for_s=WINDOW + 30)]
    raised = await eventually(
        lambda: _alert(client, "active", ("camera_offline", "k9", "cam-9")), within=5
    )
    assert "connect refused" in raised["message"]
    body["cameras"] = [ingest_camera("online")]
    resolved = await eventually(
        lambda: _alert(client, "resolved", ("camera_offline", "k9", "cam-9")), within=5
    )
    assert resolved["id"] == raised["id"]
    assert not await alerts(client, "active")


async def _alert(client: Any, status: str, which: tuple[str, str, str]) -> Any:
    return (await alerts(client, status)).get(which)
