"""A raw-socket asyncio load generator: keep-alive HTTP/1.1 clients on loopback, closed loop.

Written here rather than taken from a library (wrk, locust, httpx) because it must cost almost
nothing on a 2-core machine shared with the server it measures: an httpx client costs 16-17% of
a core and 5-12% of the server's throughput here, this one 3-5% (FACTS.md). Each of
`concurrency` connections sends one request, reads the whole answer, and sends the next; the
connections open 2 ms apart (so several uvicorn or BentoML workers each get some).
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from dataclasses import dataclass, field


def raw_post(path: str, body: bytes, content_type: str = "image/jpeg", headers: str = "") -> bytes:
    """One HTTP/1.1 request with a raw body (`headers`: extra lines, each ending in CRLF)."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: {content_type}\r\n{headers}"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def multipart_post(path: str, field_name: str, body: bytes, filename: str = "cat.jpg") -> bytes:
    """One HTTP/1.1 request carrying `body` as the one file part `field_name`."""
    boundary = uuid.uuid4().hex
    part = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field_name}"; '
        f'filename="{filename}"\r\nContent-Type: image/jpeg\r\n\r\n'
    ).encode()
    data = part + body + f"\r\n--{boundary}--\r\n".encode()
    return raw_post(path, data, f"multipart/form-data; boundary={boundary}")


@dataclass
class Result:
    count: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        """Latency at quantile q (0.5, 0.99) in ms."""
        if not self.latencies:
            return float("nan")
        if q == 0.5:
            return statistics.median(self.latencies) * 1000
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000


async def _connection(
    port: int, request: bytes, deadline: float, budget: list[int], out: Result, delay: float
) -> None:
    await asyncio.sleep(delay)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline and budget[0] > 0:
            budget[0] -= 1
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            if head.startswith(b"HTTP/1.1 200"):
                out.latencies.append(time.perf_counter() - started)
                out.count += 1
            else:
                out.errors += 1
    finally:
        writer.close()


async def drive(
    port: int, request: bytes, *, concurrency: int, seconds: float, max_requests: int = 10**6
) -> Result:
    """`concurrency` closed-loop connections for `seconds` (or `max_requests` in all)."""
    out = Result()
    started = time.perf_counter()
    deadline, budget = started + seconds, [max_requests]
    await asyncio.gather(
        *(_connection(port, request, deadline, budget, out, i * 0.002) for i in range(concurrency))
    )
    out.seconds = time.perf_counter() - started
    return out


def run(port: int, request: bytes, *, concurrency: int, seconds: float) -> Result:
    return asyncio.run(drive(port, request, concurrency=concurrency, seconds=seconds))
