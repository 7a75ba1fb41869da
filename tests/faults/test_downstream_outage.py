"""A downstream down for 20 s while 200 frames arrive: all delivered after it returns, none
twice (the aggregator's evidence counts are exact)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.faults.conftest import Stack, wait_all_delivered
from tests.servers import ServiceProcess, frames, unique, wait_until

pytestmark = pytest.mark.slow
OUTAGE_S = 20.0
CAMERAS, PER_CAMERA = 20, 10


def push_during_outage(
    stack: Stack, down: ServiceProcess, sample_dir: Path, prefix: str
) -> dict[str, int]:
    spaces = {}
    for i in range(CAMERAS):
        camera, space = unique(f"{prefix}-cam{i}"), unique(f"{prefix}-space{i}")
        stack.camera(camera, space)
        spaces[camera] = space
    down.stop()
    outage_ends = time.monotonic() + OUTAGE_S
    data = iter(frames(sample_dir, CAMERAS * PER_CAMERA))
    for camera in spaces:
        for _ in range(PER_CAMERA):
            assert stack.push(camera, next(data)).status_code == 202
    service = "classifier" if down is stack.classifier else "aggregator"
    wait_until(
        lambda: stack.outbox()["breakers"][service] != "closed",
        timeout=15,
        what=f"{service} breaker opens",
    )
    # The outage itself: for the rest of the 20 s, check that nothing leaves the outbox.
    while time.monotonic() < outage_ends:
        assert stack.outbox()["depth"] == CAMERAS * PER_CAMERA
        if down is stack.classifier:  # the aggregator is up and has heard of none of them
            assert all(stack.evidence(space) is None for space in list(spaces.values())[:3])
        time.sleep(0.5)
    down.start(timeout=90)
    return {space: PER_CAMERA for space in spaces.values()}


def test_classifier_down_for_20s(stack: Stack, sample_dir: Path) -> None:
    expected = push_during_outage(stack, stack.classifier, sample_dir, "cdown")
    wait_all_delivered(stack, expected)


def test_aggregator_down_for_20s(stack: Stack, sample_dir: Path) -> None:
    expected = push_during_outage(stack, stack.aggregator, sample_dir, "adown")
    wait_all_delivered(stack, expected)
