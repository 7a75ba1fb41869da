"""camera-ingest SIGKILLed mid-stream and restarted: every accepted frame is delivered exactly
once in effect. The uploader retries a failed upload with the same Idempotency-Key, as a camera
should, so a frame persisted just before the kill is not sent as a second frame."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.faults.conftest import Stack, wait_all_delivered
from tests.servers import frames, unique, wait_until

pytestmark = pytest.mark.slow
CAMERAS, PER_CAMERA = 10, 20


def upload_until_accepted(stack: Stack, camera: str, data: bytes, key: str) -> str:
    deadline = time.monotonic() + 90
    while True:
        try:
            response = stack.push(camera, data, key)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)  # the client's own retry backoff while ingest restarts
            continue
        assert response.status_code == 202, response.text
        return response.json()["frame_id"]  # type: ignore[no-any-return]


def test_sigkill_mid_stream_then_restart(stack: Stack, sample_dir: Path) -> None:
    spaces = {unique(f"crash-cam{i}"): unique(f"crash-space{i}") for i in range(CAMERAS)}
    for camera, space in spaces.items():
        stack.camera(camera, space)
    work = [(camera, f"{camera}-{n}") for n in range(PER_CAMERA) for camera in spaces]
    data = dict(zip([key for _, key in work], frames(sample_dir, len(work)), strict=True))
    accepted: dict[str, str] = {}
    errors: list[BaseException] = []

    def uploader() -> None:
        try:
            for camera, key in work:
                accepted[key] = upload_until_accepted(stack, camera, data[key], key)
        except BaseException as exc:  # surfaced by the main thread
            errors.append(exc)

    thread = threading.Thread(target=uploader, daemon=True)
    thread.start()
    wait_until(lambda: len(accepted) >= len(work) // 3, timeout=60, what="a third uploaded")
    # Hold deliveries back so that the kill certainly leaves accepted, unacknowledged frames
    # behind (with every service up, the outbox is often empty at any given instant).
    stack.classifier.stop()
    wait_until(lambda: stack.outbox()["depth"] >= 10, timeout=60, what="frames to pile up")
    stack.ingest.kill()  # SIGKILL while uploads arrive and workers hold frames in flight
    stack.ingest.start(timeout=60)
    assert stack.outbox()["depth"] >= 10, "frames accepted before the kill are in the outbox"
    stack.classifier.start(timeout=90)
    thread.join(timeout=120)
    assert not errors
    assert len(accepted) == len(work)

    for camera, key in work[: len(work) // 3]:  # the same keys again: the same frames
        assert upload_until_accepted(stack, camera, data[key], key) == accepted[key]
    wait_all_delivered(stack, {space: PER_CAMERA for space in spaces.values()})
    assert len(set(accepted.values())) == len(work)
