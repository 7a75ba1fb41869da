"""One fault under load: frames stream through the gateway while the fault is injected, then the
suite checks the guarantee and measures the recovery (the table row).

`run_fault` pushes `count` frames at `rate` a second with a new camera key, injects the fault once
a quarter of them is accepted, and then checks: every frame accepted with 202 is counted by the
aggregator exactly once (its `observation_count` counts distinct frame ids), the outbox holds
nothing (no depth, no pending, no new dead letter), and every /readyz is back to 200 by itself.
Recovery: from the end of the fault (restart launched, SIGCONT sent) until every /readyz is 200.
Drain: from the last accepted push until the aggregator holds every accepted frame.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stack.processes import Child, RedisServer, ServiceProcess, eventually
from tests.reliability.conftest import ROWS, Shelter
from tests.reliability.traffic import Answer, Pusher, distinct_frames
from tests.servers import ROOT

FRAMES, RATE = 150, 25.0
SAMPLE = ROOT / "data" / "sample"
BAD_LOG_LINES = ('"level": "ERROR"', '"level": "CRITICAL"', "Traceback")


@dataclass
class Outcome:
    row: dict[str, Any]
    pusher: Pusher
    fault_window: tuple[float, float]  # monotonic start and end of the fault

    def answers_during_fault(self) -> list[Answer]:
        return self.pusher.answers_between(*self.fault_window)


def run_fault(sh: Shelter, name: str, inject: Callable[[], None]) -> Outcome:
    camera, space, key = sh.camera(name.split(" ")[0].replace("/", "-"))
    logs = {path: path.stat().st_size for path in sh.log_dir.glob("*.log")}
    dead_before = sh.outbox()["dead"]
    pusher = Pusher(sh.gateway_url, camera, key, distinct_frames(SAMPLE, FRAMES), RATE)
    pusher.start()
    eventually(lambda: len(pusher.accepted) >= FRAMES // 4, timeout=60, what="a quarter accepted")
    started = time.monotonic()
    inject()
    ended = time.monotonic()
    eventually(lambda: not sh.not_ready(), timeout=180, interval=0.1, what="every /readyz 200")
    recovery = time.monotonic() - ended
    pusher.join()
    last_push = time.monotonic()
    accepted_ids = set(pusher.accepted.values())
    try:
        eventually(
            lambda: _drained(sh) and sh.delivered(space) >= len(accepted_ids),
            timeout=150,
            interval=0.1,
            what="every accepted frame delivered",
        )
        drain: float | str = time.monotonic() - last_push
    except TimeoutError:
        drain = "timeout"
    delivered = sh.delivered(space)
    row = {
        "fault": name,
        "sent": FRAMES,
        "accepted": len(accepted_ids),
        "delivered": delivered,
        # a frame accepted twice under two ids, or counted twice by the aggregator
        "duplicates": (len(pusher.accepted) - len(accepted_ids))
        + max(0, delivered - len(accepted_ids)),
        "lost": max(0, len(accepted_ids) - delivered),
        "recovery s": recovery,
        "drain s": drain,
        "new dead letters": sh.outbox()["dead"] - dead_before,
        "errors logged": errors_logged(logs),
    }
    ROWS.append(row)
    return Outcome(row, pusher, (started, ended))


def check_guarantee(sh: Shelter, outcome: Outcome) -> None:
    row, pusher = outcome.row, outcome.pusher
    assert not pusher.errors, pusher.errors[:5]
    assert row["accepted"] == row["sent"], "every frame is accepted in the end (the camera retries)"
    assert row["lost"] == 0, row
    assert row["duplicates"] == 0, row
    assert row["drain s"] != "timeout", row
    assert row["new dead letters"] == 0, row
    assert not row["errors logged"], "no ERROR line nor traceback in any log (client hang-ups)"
    box = sh.outbox()
    assert (box["depth"], box["pending"]) == (0, 0), box
    assert not sh.not_ready()


def sigkill(sh: Shelter, name: str, down_s: float = 2.0) -> Callable[[], None]:
    def inject() -> None:
        child = sh.process(name)
        child.kill()  # SIGKILL: no shutdown hook runs
        time.sleep(down_s)  # the outage itself: how long it stays down
        restart(child)

    return inject


def restart(child: Child) -> None:
    """Launch it again on the same port (Redis: on the same AOF), without waiting for ready."""
    if isinstance(child, RedisServer):
        child.start(timeout=60)
    else:
        assert isinstance(child, ServiceProcess)
        child.spawn()


def sigstop(sh: Shelter, name: str, stalled_s: float) -> Callable[[], None]:
    def inject() -> None:
        proc = sh.process(name).proc
        assert proc is not None
        os.kill(proc.pid, signal.SIGSTOP)
        try:
            time.sleep(stalled_s)  # the stall: longer than every timeout in front of it
        finally:
            os.kill(proc.pid, signal.SIGCONT)

    return inject


def classifier_sick(sh: Shelter, errors_s: float, hang_s: float) -> Callable[[], None]:
    def inject() -> None:
        try:
            sh.set_classifier_fault("error")
            time.sleep(errors_s)
            sh.set_classifier_fault("hang")
            time.sleep(hang_s)
        finally:
            sh.set_classifier_fault("pass")

    return inject


def disk_full(folder: Path, full_s: float) -> Callable[[], None]:
    """Fill the archive's filesystem with a ballast file for `full_s`, then remove it."""

    def inject() -> None:
        ballast = folder / "ballast"
        stat = os.statvfs(folder)
        with ballast.open("wb", buffering=0) as out:
            try:
                os.posix_fallocate(out.fileno(), 0, stat.f_bavail * stat.f_frsize)
            except OSError:  # tmpfs undoes a fallocate it cannot finish (a frame landed since
                for size in (1 << 16, 1 << 12, 1 << 9):  # statvfs): fill it by writing
                    with contextlib.suppress(OSError):
                        while out.write(b"\0" * size):
                            pass
        try:
            time.sleep(full_s)
        finally:
            ballast.unlink()

    return inject


def errors_logged(since: dict[Path, int]) -> list[str]:
    """The ERROR/CRITICAL lines and tracebacks written to the logs after the given offsets."""
    found = []
    for path, offset in since.items():
        with path.open("rb") as log:
            log.seek(offset)
            for line in log.read().decode(errors="replace").splitlines():
                if any(mark in line for mark in BAD_LOG_LINES):
                    found.append(f"{path.name}: {line[:300]}")
    return found


def _drained(sh: Shelter) -> bool:
    box = sh.outbox()
    return bool(box["depth"] == 0 and box["pending"] == 0)
