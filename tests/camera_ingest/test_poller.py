"""Polled cameras against the real camera simulator (tools/camera_sim.py) over real HTTP."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from camera_ingest.config import Settings
from camera_ingest.errors import StoreUnavailable
from camera_ingest.main import create_app
from tests.camera_ingest.conftest import (
    LOOPBACK,
    Downstream,
    app_client,
    eventually,
    fast_settings,
)
from tools.camera_sim import Simulator, parse_cameras, serve

pytestmark = pytest.mark.anyio


class SimThread:
    def __init__(self, photos: Path, cameras: str) -> None:
        self.server = serve(
            Simulator(photos, parse_cameras(cameras), "", hang_s=3.0), "127.0.0.1", 0
        )
        port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def snapshot(self, name: str) -> str:
        return f"{self.url}/cameras/{name}/snapshot.jpg"

    def set_mode(self, name: str, mode: str) -> None:
        response = httpx.put(f"{self.url}/cameras/{name}/mode", json={"mode": mode}, timeout=5)
        assert response.status_code == 200, response.text


@pytest.fixture
def sim(sample_dir: Path, tmp_path: Path) -> Iterator[SimThread]:
    still = tmp_path / "still"
    still.mkdir()
    shutil.copy(next((sample_dir / "cat").glob("*.jpg")), still / "only.jpg")
    shutil.copytree(sample_dir / "cat", tmp_path / "cat")
    running = SimThread(tmp_path, "good=cat,bad=cat,still=still")
    running.thread.start()
    yield running
    running.server.shutdown()
    running.server.server_close()


@pytest.fixture
def settings(redis_url: str, downstream: Downstream) -> Settings:
    return fast_settings(
        redis_url,
        downstream.url,
        poll_timeout_s=0.5,
        poll_offline_after=2,
        poll_backoff_max_s=0.4,
        snapshot_allow_networks=LOOPBACK,  # the simulator listens on 127.0.0.1
    )


async def register(client: httpx.AsyncClient, sim: SimThread, name: str) -> None:
    body = {
        "id": name,
        "space_id": f"space-{name}",
        "mode": "poll",
        "snapshot_url": sim.snapshot(name),
        "interval_s": 0.1,
    }
    assert (await client.post("/v1/cameras", json=body)).status_code == 201


async def camera(client: httpx.AsyncClient, name: str) -> dict[str, Any]:
    return (await client.get(f"/v1/cameras/{name}")).json()  # type: ignore[no-any-return]


def test_simulator_lists_its_cameras(sim: SimThread) -> None:
    listing = json.loads(httpx.get(f"{sim.url}/cameras", timeout=5).text)
    assert [c["name"] for c in listing] == ["good", "bad", "still"]
    first = httpx.get(sim.snapshot("good"), timeout=5)
    second = httpx.get(sim.snapshot("good"), timeout=5)
    assert first.headers["content-type"] == "image/jpeg"
    assert first.content != second.content
    assert httpx.put(f"{sim.url}/cameras/good/mode", json={"mode": "x"}).status_code == 422


@pytest.mark.parametrize("mode", ["fail", "hang", "garbage"])
async def test_a_bad_camera_goes_offline_and_recovers_without_hurting_others(
    settings: Settings, sim: SimThread, downstream: Downstream, mode: str
) -> None:
    sim.set_mode("bad", mode)
    async with app_client(create_app(settings)) as client:
        await register(client, sim, "good")
        await register(client, sim, "bad")

        async def bad_offline_good_flowing() -> bool:
            bad, good = await camera(client, "bad"), await camera(client, "good")
            return bool(
                bad["status"]["state"] == "offline"
                and bad["status"]["consecutive_errors"] >= 2
                and good["status"]["frames"]["accepted"] >= 3
                and good["status"]["state"] == "online"
            )

        await eventually(bad_offline_good_flowing, within=15, what="bad offline, good flowing")
        bad = await camera(client, "bad")
        assert bad["status"]["frames"]["accepted"] == 0
        assert bad["status"]["last_error"]
        spaces = {o["space_id"] for o in downstream.observations.values()}
        assert spaces == {"space-good"}

        sim.set_mode("bad", "normal")

        async def bad_back() -> bool:
            status = (await camera(client, "bad"))["status"]
            return bool(status["state"] == "online" and status["frames"]["accepted"] >= 1)

        await eventually(bad_back, within=15, what="bad camera recovers")


async def test_identical_snapshots_are_skipped(
    settings: Settings, sim: SimThread, downstream: Downstream
) -> None:
    async with app_client(create_app(settings)) as client:
        await register(client, sim, "still")

        async def skipped() -> dict[str, Any]:
            frames = (await camera(client, "still"))["status"]["frames"]
            return frames if frames["skipped"] >= 3 else {}

        frames = await eventually(skipped, what="skipped frames")
        assert frames["accepted"] == 1
        assert "ingest_frames_skipped_total" in (await client.get("/metrics")).text


async def test_a_failed_store_does_not_hide_the_next_identical_snapshot(
    settings: Settings, sim: SimThread, downstream: Downstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(settings)
    async with app_client(app) as client:
        intake = app.state.intake
        real_store, failures = intake.store, list[int]()

        async def store_failing_once(*args: Any, **kwargs: Any) -> Any:
            if not failures:
                failures.append(1)
                raise StoreUnavailable("redis blinked")
            return await real_store(*args, **kwargs)

        monkeypatch.setattr(intake, "store", store_failing_once)
        await register(client, sim, "still")

        async def stored_then_skipped() -> dict[str, Any]:
            frames = (await camera(client, "still"))["status"]["frames"]
            return frames if frames["accepted"] and frames["skipped"] else {}

        frames = await eventually(stored_then_skipped, what="still camera stored after a failure")
        assert failures == [1]
        assert frames["accepted"] == 1
