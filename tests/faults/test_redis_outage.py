"""Redis stops and comes back: the services answer 503 problem+json meanwhile (never a 500,
never a crash), report not ready, and recover by themselves; nothing accepted is lost."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.faults.conftest import Stack, wait_all_delivered
from tests.servers import ServiceProcess, frames, unique, wait_until

pytestmark = pytest.mark.slow


def ready(service: ServiceProcess) -> int:
    return httpx.get(f"{service.url}/readyz", timeout=10).status_code


def test_redis_down_then_back(stack: Stack, sample_dir: Path) -> None:
    camera, space = unique("rcam"), unique("rspace")
    stack.camera(camera, space)
    data = frames(sample_dir, 20)
    for frame in data[:10]:
        assert stack.push(camera, frame).status_code == 202
    wait_all_delivered(stack, {space: 10})

    stack.redis.stop()  # SIGTERM: the AOF is complete (fsync always)
    refused = stack.push(camera, data[10])
    assert refused.status_code == 503, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert ready(stack.ingest) == 503
    assert ready(stack.aggregator) == 503
    space_read = httpx.get(f"{stack.aggregator.url}/v1/spaces/{space}", timeout=10)
    assert space_read.status_code == 503
    assert space_read.headers["content-type"].startswith("application/problem+json")

    stack.redis.start()  # same port, same data directory
    for service in (stack.ingest, stack.aggregator):
        wait_until(lambda s=service: ready(s) == 200, timeout=30, what=f"{service.package} ready")
    # Every pooled connection from before the restart is stale: none may surface as a 503.
    urls = [f"{stack.ingest.url}/v1/outbox", f"{stack.aggregator.url}/v1/spaces/{space}"] * 8
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda u: httpx.get(u, timeout=10).status_code, urls))
    assert statuses == [200] * len(urls)
    for frame in data[10:]:
        assert stack.push(camera, frame).status_code == 202
    wait_all_delivered(stack, {space: 20})
    assert stack.ingest.proc is not None
    assert stack.ingest.proc.poll() is None  # nobody crashed
    assert stack.aggregator.proc is not None
    assert stack.aggregator.proc.poll() is None
