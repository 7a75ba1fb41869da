"""A polled camera whose snapshot URL answers 404, end to end over real HTTP: camera-ingest
(under uvicorn, its poller running) marks it offline with the reason, and the aggregator, polling
ingest's `GET /v1/cameras`, raises `camera_offline` only once AGGREGATOR_CAMERA_OFFLINE_ALERT_S
has passed since `offline_since` (the aggregator's clock is moved by the test, not slept)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn

from aggregator.config import Settings as AggregatorSettings
from aggregator.main import create_app as create_aggregator
from camera_ingest.config import Settings
from camera_ingest.main import create_app
from tests.aggregator.conftest import Clock
from tests.camera_ingest.conftest import SnapshotServer, eventually
from tests.servers import free_port, wait_until

pytestmark = pytest.mark.anyio
THRESHOLD_S = 30.0


class LiveIngest:
    """camera-ingest under a real uvicorn in a thread, lifespan (Redis, poller) on."""

    def __init__(self, settings: Settings) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        port = int(self.url.rsplit(":", 1)[1])
        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveIngest:
        self.thread.start()
        wait_until(lambda: self.server.started, timeout=20, what="camera-ingest")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


@pytest.fixture
def live_ingest(loopback_settings: Settings) -> Iterator[tuple[LiveIngest, SnapshotServer]]:
    with SnapshotServer() as camera, LiveIngest(loopback_settings) as ingest:
        yield ingest, camera


async def test_a_404_snapshot_url_goes_offline_and_raises_camera_offline_after_the_setting(
    live_ingest: tuple[LiveIngest, SnapshotServer], redis_url: str
) -> None:
    ingest, camera = live_ingest
    async with httpx.AsyncClient(base_url=ingest.url, timeout=5) as http:
        created = await http.post(
            "/v1/cameras",
            json={
                "id": "cam-7",
                "space_id": "kennel-7",
                "mode": "poll",
                "snapshot_url": camera.url("/missing"),
                "interval_s": 0.1,
            },
        )
        assert created.status_code == 201, created.text

        async def offline() -> dict[str, Any]:
            status = (await http.get("/v1/cameras/cam-7")).json()["status"]
            failing = status["state"] == "offline" and status["consecutive_errors"] >= 2
            return status if failing else {}

        status = await eventually(offline, what="cam-7 offline")
    assert status["last_error"] == "snapshot answered HTTP 404"
    assert status["frames"]["accepted"] == 0
    assert status["frame_rate_per_min"] == 0
    since = datetime.fromisoformat(status["offline_since"])

    clock = Clock(now=since + timedelta(seconds=THRESHOLD_S - 1))
    settings = AggregatorSettings(
        redis_url=redis_url, alert_interval_s=3600, ingest_url=ingest.url,
        camera_poll_s=0.05, camera_offline_alert_s=THRESHOLD_S,
    )  # fmt: skip
    app = create_aggregator(settings, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://agg") as agg:

            async def known() -> bool:
                return bool(await app.state.shelter.store.hash_json("agg:camhealth:cameras"))

            await eventually(known, what="the aggregator's first poll of ingest")
            assert await _offline_alerts(agg) == []  # not yet past the setting

            clock.now = since + timedelta(seconds=THRESHOLD_S + 1)
            raised = await eventually(lambda: _offline_alerts(agg), what="camera_offline")
    alert = raised[0]
    assert (alert["space_id"], alert["subject"]) == ("kennel-7", "cam-7")
    when = since.astimezone(UTC)
    assert alert["message"] == (
        f"Camera cam-7 of kennel-7 has been offline since {when.day} {when:%b %H:%M} UTC "
        "(last error: snapshot answered HTTP 404)"
    )


async def _offline_alerts(agg: httpx.AsyncClient) -> list[dict[str, Any]]:
    alerts = (await agg.get("/v1/alerts?status=active")).json()
    return [a for a in alerts if a["kind"] == "camera_offline"]
