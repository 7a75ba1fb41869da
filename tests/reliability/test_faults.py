"""Each fault its own test, under a stream of frames through the gateway (see faults.py): every
service and Redis SIGKILLed and restarted, then SIGSTOPped for longer than the timeouts in front
of it and continued; the classifier answering 500s, then hanging; the archive's disk full."""

from __future__ import annotations

import httpx
import pytest

from tests.reliability.conftest import GATEWAY_TIMEOUT_S, Shelter
from tests.reliability.faults import (
    check_guarantee,
    classifier_sick,
    disk_full,
    run_fault,
    sigkill,
    sigstop,
)

pytestmark = pytest.mark.reliability
PROCESSES = ("gateway", "camera-ingest", "classifier", "aggregator", "batch", "redis")
STALL_S = 6.0  # longer than every timeout in front of a stalled process (5 s at most)
BOUND_S = GATEWAY_TIMEOUT_S + 1.5  # an answer during a stall comes within the gateway's timeout


@pytest.mark.parametrize("name", PROCESSES)
def test_sigkill_and_restart(shelter: Shelter, name: str) -> None:
    outcome = run_fault(shelter, f"SIGKILL {name}", sigkill(shelter, name))
    check_guarantee(shelter, outcome)


@pytest.mark.parametrize("name", PROCESSES)
def test_sigstop_then_sigcont(shelter: Shelter, name: str) -> None:
    outcome = run_fault(shelter, f"SIGSTOP {name} {STALL_S:g} s", sigstop(shelter, name, STALL_S))
    check_guarantee(shelter, outcome)
    if name == "gateway":
        return  # nothing answers for it while it is stopped: the camera's client times out
    during = outcome.answers_during_fault()
    assert during, "pushes were made during the stall"
    slow = [a for a in during if a.elapsed_s > BOUND_S]
    assert not slow, f"answers slower than the gateway's timeout: {slow[:3]}"
    refused = [a for a in during if a.status == 503]
    assert all(a.retry_after for a in refused), "every 503 says when to retry"
    if name == "redis":  # a stalled store is a prompt 503 + Retry-After, not a 504 hang
        assert refused, "a push during the Redis stall is refused with 503"
        assert not [a for a in during if a.status == 504], "no push waits out the gateway"


def test_classifier_errors_then_hangs(shelter: Shelter) -> None:
    outcome = run_fault(
        shelter, "classifier 500s 4 s, then hangs 8 s", classifier_sick(shelter, 4.0, 8.0)
    )
    check_guarantee(shelter, outcome)


def test_archive_disk_full(shelter: Shelter) -> None:
    if shelter.archive_dir == shelter.archive_dir.__class__():
        pytest.skip("no small filesystem for the archive: mounting a tmpfs needs root")
    failures_before = _archive_failures(shelter)
    outcome = run_fault(shelter, "archive disk full 5 s", disk_full(shelter.archive_dir, 5.0))
    check_guarantee(shelter, outcome)
    assert _archive_failures(shelter) > failures_before, "the disk really was full"


def _archive_failures(shelter: Shelter) -> float:
    text = httpx.get(f"{shelter.service('camera-ingest').url}/metrics", timeout=5).text
    for line in text.splitlines():
        if line.startswith("ingest_archive_write_failures_total "):
            return float(line.split()[1])
    return 0.0
