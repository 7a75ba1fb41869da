"""The suite's camera: frames pushed through the gateway with a camera key at a bounded rate, each
retried with its own Idempotency-Key until it is accepted (202), as a real camera retries a push it
got no answer to, or a 503/504/429 for. Every answer is recorded with how long it took, so a test
can say that a stalled dependency answered promptly (a bound, never a benchmark).

Threads with a blocking httpx client rather than an event loop: four of them are enough for the
few tens of frames a second the suite sends, and a fault test's main thread stays free to kill.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from PIL import Image

RETRIED = {0, 429, 502, 503, 504}  # 0: no answer (refused, reset, timed out)


@dataclass(frozen=True)
class Answer:
    status: int  # 0: no answer
    elapsed_s: float
    retry_after: str | None
    at: float  # time.monotonic() when it came


@dataclass
class Pusher:
    gateway_url: str
    camera_id: str
    camera_key: str
    frames: Sequence[bytes]
    rate: float  # frames a second, started on a fixed schedule
    workers: int = 4
    deadline_s: float = 180.0
    client_timeout_s: float = 20.0
    accepted: dict[int, str] = field(default_factory=dict)  # frame index -> frame id
    answers: list[Answer] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        self.t0 = time.monotonic()
        for worker in range(self.workers):
            thread = threading.Thread(target=self._run, args=(worker,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def join(self) -> None:
        for thread in self._threads:
            thread.join(self.deadline_s + self.client_timeout_s + 5)
        if any(t.is_alive() for t in self._threads):
            self.errors.append("a push thread outlived its deadline")

    def answers_between(self, start: float, end: float) -> list[Answer]:
        with self._lock:
            return [a for a in self.answers if start <= a.at - a.elapsed_s <= end]

    def _run(self, worker: int) -> None:
        url = f"{self.gateway_url}/api/v1/cameras/{self.camera_id}/frame"
        headers = {"X-API-Key": self.camera_key, "Content-Type": "image/jpeg"}
        with httpx.Client(timeout=self.client_timeout_s) as client:
            for index in range(worker, len(self.frames), self.workers):
                due = self.t0 + index / self.rate
                time.sleep(max(0.0, due - time.monotonic()))  # the camera's own frame clock
                try:
                    self._push(client, url, headers, index)
                except Exception as exc:  # surfaced by the test, never swallowed
                    self.errors.append(f"frame {index}: {exc!r}")

    def _push(self, client: httpx.Client, url: str, headers: dict[str, str], index: int) -> None:
        key = f"{self.camera_id}-{index}"
        give_up = time.monotonic() + self.deadline_s
        while True:
            started = time.monotonic()
            try:
                resp = client.put(url, content=self.frames[index], headers={
                    **headers, "Idempotency-Key": key})  # fmt: skip
                status, retry_after = resp.status_code, resp.headers.get("retry-after")
            except httpx.TransportError:
                resp, status, retry_after = None, 0, None
            now = time.monotonic()
            with self._lock:
                self.answers.append(Answer(status, now - started, retry_after, now))
            if status == 202 and resp is not None:
                with self._lock:
                    self.accepted[index] = resp.json()["frame_id"]
                return
            if status not in RETRIED:
                body = resp.text[:300] if resp is not None else ""
                raise AssertionError(f"push answered {status}: {body}")
            if now > give_up:
                raise TimeoutError(f"not accepted within {self.deadline_s:g} s (last {status})")
            time.sleep(0.25)  # a camera's retry backoff


def distinct_frames(sample_dir: Path, count: int) -> list[bytes]:
    """`count` small JPEGs of the sample photos, every one with bytes of its own (its index in a
    JPEG comment: a changed pixel alone can compress to the same bytes, which ingest's dedupe
    window would then rightly answer with the first frame's id)."""
    photos = sorted(sample_dir.glob("*/*.jpg"))
    smalls = []
    for photo in photos:
        with Image.open(photo) as img:
            smalls.append(img.convert("RGB").resize((160, 120)))
    out = []
    for i in range(count):
        buf = io.BytesIO()
        smalls[i % len(smalls)].save(buf, "JPEG", quality=90, comment=f"frame {i}".encode())
        out.append(buf.getvalue())
    return out


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]
