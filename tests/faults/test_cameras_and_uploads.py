"""Polled cameras that hang, fail or send garbage (the real simulator as a process), and
duplicate uploads with one Idempotency-Key, against the real stack."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.faults.conftest import Stack, wait_all_delivered
from tests.servers import ROOT, frames, free_port, unique, wait_until

pytestmark = pytest.mark.slow
SIM_CAMERAS = "ok=cat,hangs=dog,fails=cat,junk=none"


@pytest.fixture
def sim(sample_dir: Path) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "tools/camera_sim.py",
            "--photos",
            str(sample_dir),
            "--port",
            str(port),
            "--cameras",
            SIM_CAMERAS,
            "--hang-s",
            "5",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: httpx.get(f"{url}/healthz", timeout=1).status_code == 200,
            timeout=15,
            what="camera simulator",
        )
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def camera_status(stack: Stack, camera: str) -> dict[str, Any]:
    response = httpx.get(f"{stack.ingest.url}/v1/cameras/{camera}", timeout=5)
    return response.json()["status"]  # type: ignore[no-any-return]


def _offline(status: dict[str, Any]) -> bool:
    return bool(status["state"] == "offline" and status["consecutive_errors"] >= 2)


def test_bad_polled_cameras_go_offline_others_unaffected(stack: Stack, sim: str) -> None:
    for name, mode in (("hangs", "hang"), ("fails", "fail"), ("junk", "garbage")):
        assert httpx.put(f"{sim}/cameras/{name}/mode", json={"mode": mode}).status_code == 200
    listing = httpx.get(f"{sim}/cameras", timeout=5).json()
    ids = {c["name"]: unique(f"poll-{c['name']}") for c in listing}
    for cam in listing:
        stack.camera(
            ids[cam["name"]],
            f"space-{ids[cam['name']]}",
            mode="poll",
            snapshot_url=cam["snapshot_url"],
            interval_s=0.3,
        )
    bad = [ids[n] for n in ("hangs", "fails", "junk")]

    def settled() -> bool:
        ok = camera_status(stack, ids["ok"])
        return (
            ok["state"] == "online"
            and ok["frames"]["accepted"] >= 5
            and all(_offline(camera_status(stack, b)) for b in bad)
        )

    wait_until(settled, timeout=60, interval=0.3, what="bad cameras offline, ok camera flowing")
    wait_until(
        lambda: (stack.evidence(f"space-{ids['ok']}") or 0) >= 3,
        timeout=60,
        what="the ok camera's frames reach the aggregator",
    )
    for camera in bad:
        status = camera_status(stack, camera)
        assert status["frames"]["accepted"] == 0
        assert status["consecutive_errors"] >= 2, (camera, status)
        assert stack.evidence(f"space-{camera}") is None
    for camera in bad:  # stop polling them before the next test
        httpx.patch(f"{stack.ingest.url}/v1/cameras/{camera}", json={"enabled": False})


def test_duplicate_uploads_with_one_key_are_one_frame(stack: Stack, sample_dir: Path) -> None:
    camera, space = unique("dup-cam"), unique("dup-space")
    stack.camera(camera, space)
    image = frames(sample_dir, 1)[0]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: stack.push(camera, image, "same-key"), range(16)))
    assert {a.status_code for a in answers} == {202}
    frame_ids = {a.json()["frame_id"] for a in answers}
    assert len(frame_ids) == 1
    assert sum(not a.json()["duplicate"] for a in answers) == 1
    other = frames(sample_dir, 2)[1]  # other bytes, same key: still the same frame
    assert stack.push(camera, other, "same-key").json()["frame_id"] in frame_ids
    wait_all_delivered(stack, {space: 1})
