"""A job of 2,000 images, two worker processes (`python -m batch.worker`), one SIGKILLed while it
holds a chunk: the job completes with every item counted exactly once.

The API runs as its own process with no workers (BATCH_WORKER_TASKS=0), the workers as two more,
all against one real Redis and one data dir, the real classifier behind them. The kill comes
while the doomed worker has a chunk pending (taken, not acked) and results are being stored; the
survivor takes that chunk over once it has been idle BATCH_RECLAIM_MIN_IDLE_S and redoes only
its items without a result."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from batch.chunks import GROUP, STREAM
from stack.processes import Child
from tests.batch.conftest import tiny_jpeg, variants, zip_of
from tests.servers import ROOT, ServiceProcess, eventually

pytestmark = pytest.mark.slow
ITEMS = 2000


def pending_of(client: redis.Redis, consumer: str) -> int:
    summary: Any = client.xpending(STREAM, GROUP)
    return sum(int(c["pending"]) for c in summary["consumers"] if c["name"] == consumer.encode())


def worker(name: str, env: dict[str, str]) -> Child:
    child = Child(name)
    child.launch(
        [sys.executable, "-m", "batch.worker"],
        {**env, "BATCH_CONSUMER_NAME": name, "PYTHONPATH": str(ROOT / "services" / "batch")},
    )
    return child


@pytest.fixture
def env(redis_url: str, tmp_path: Path, classifier: ServiceProcess) -> dict[str, str]:
    return {
        "BATCH_REDIS_URL": f"{redis_url}/4",
        "BATCH_DATA_DIR": str(tmp_path / "batch"),
        "BATCH_CLASSIFIER_URL": classifier.url,
        "BATCH_CHUNK_SIZE": "100",
        "BATCH_WORKER_TASKS": "2",
        "BATCH_READ_BLOCK_MS": "200",
        "BATCH_RECLAIM_MIN_IDLE_S": "3",
        "BATCH_RECLAIM_INTERVAL_S": "0.5",
        "BATCH_RETRY_BASE_S": "0.05",
        "BATCH_RETRY_MAX_S": "0.5",
        "BATCH_SHUTDOWN_GRACE_S": "1",
    }


@pytest.fixture
def api(env: dict[str, str]) -> Iterator[ServiceProcess]:
    proc = ServiceProcess("batch", {**env, "BATCH_WORKER_TASKS": "0"}).start(timeout=60)
    yield proc
    proc.stop()


def test_a_worker_killed_mid_chunk_loses_nothing_and_counts_nothing_twice(
    env: dict[str, str], api: ServiceProcess, classifier: ServiceProcess, sample_dir: Path
) -> None:
    photos = variants(tiny_jpeg(sample_dir / "cat" / "oxpet-041.jpg"), ITEMS)
    archive = zip_of({f"intake/{i:05d}.jpg": data for i, data in enumerate(photos)})
    doomed, survivor = worker("worker-doomed", env), worker("worker-survivor", env)
    client = redis.Redis.from_url(env["BATCH_REDIS_URL"])
    try:
        response = httpx.post(f"{api.url}/v1/batch/jobs", content=archive, timeout=60,
                              params={"target": "efficientnet-lite0-pets-int8/1"},  # the quicker
                              headers={"Content-Type": "application/zip"})  # fmt: skip
        assert response.status_code == 202, response.text
        job_url = api.url + response.headers["location"]

        def job() -> dict[str, Any]:
            found: dict[str, Any] = httpx.get(job_url, timeout=10).json()
            return found

        def mid_chunk() -> bool:
            return job()["counts"]["done"] >= 300 and pending_of(client, "worker-doomed") > 0

        eventually(mid_chunk, timeout=90, interval=0.05, what="the doomed worker mid-chunk")
        doomed.kill()  # SIGKILL: no shutdown hook runs, its chunks stay pending
        at_kill = job()["counts"]
        assert pending_of(client, "worker-doomed") > 0
        assert at_kill["done"] < ITEMS

        final = eventually(lambda: (j := job())["state"] == "done" and j, timeout=150,
                           interval=0.2, what="the job to complete")  # fmt: skip
        assert final["counts"] == {
            "total": ITEMS, "done": ITEMS, "failed": 0, "remaining": 0, "reasons": {}
        }  # fmt: skip
        job_key = f"batch:job:{final['job_id']}"
        assert client.hlen(f"{job_key}:results") == ITEMS  # counted = stored, one per item
        # The last chunk is acked just after its results finish the job.
        eventually(lambda: client.xlen(STREAM) == 0, timeout=10, what="every chunk acked")
        assert pending_of(client, "worker-doomed") == 0

        lines = httpx.get(f"{job_url}/results", timeout=30).text.splitlines()
        rows = [json.loads(line) for line in lines]
        assert [row["index"] for row in rows] == list(range(ITEMS))
        assert {row["item"] for row in rows} == {f"intake/{i:05d}.jpg" for i in range(ITEMS)}
        assert {row["status"] for row in rows} == {"classified"}
    finally:
        client.close()
        doomed.stop()
        survivor.stop()
