"""The whole back end as real processes: redis-server, classifier (real ONNX model), aggregator,
camera-ingest under uvicorn. Module-scoped; each test uses its own cameras and spaces."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import RedisServer, ServiceProcess, wait_until

INGEST_ENV = {
    "INGEST_RETRY_BASE_S": "0.05",
    "INGEST_RETRY_MAX_S": "1.0",
    "INGEST_BREAKER_FAILURES": "3",
    "INGEST_BREAKER_RESET_S": "1.0",
    "INGEST_RECLAIM_MIN_IDLE_S": "2.0",
    "INGEST_RECLAIM_INTERVAL_S": "0.5",
    "INGEST_READ_BLOCK_MS": "200",
    "INGEST_POLL_TIMEOUT_S": "1.0",
    "INGEST_SNAPSHOT_ALLOW_NETWORKS": "127.0.0.1/32",  # the simulator, on loopback
    "INGEST_POLL_OFFLINE_AFTER": "2",
    "INGEST_POLL_BACKOFF_MAX_S": "1.0",
    "INGEST_POLL_TICK_S": "0.1",
    "INGEST_REQUEST_TIMEOUT_S": "5",
    "INGEST_SHUTDOWN_GRACE_S": "1",
}


@dataclass
class Stack:
    redis: RedisServer
    classifier: ServiceProcess
    aggregator: ServiceProcess
    ingest: ServiceProcess

    def camera(self, camera_id: str, space_id: str, **fields: Any) -> None:
        body = {"id": camera_id, "space_id": space_id, **fields}
        response = httpx.post(f"{self.ingest.url}/v1/cameras", json=body, timeout=10)
        assert response.status_code == 201, response.text

    def push(self, camera_id: str, data: bytes, key: str | None = None) -> httpx.Response:
        headers = {"Content-Type": "image/jpeg"}
        if key:
            headers["Idempotency-Key"] = key
        return httpx.put(
            f"{self.ingest.url}/v1/cameras/{camera_id}/frame",
            content=data,
            headers=headers,
            timeout=10,
        )

    def outbox(self) -> dict[str, Any]:
        return httpx.get(f"{self.ingest.url}/v1/outbox", timeout=5).json()  # type: ignore[no-any-return]

    def evidence(self, space_id: str) -> int | None:
        """The aggregator's public count for a space; None while it does not know the space."""
        response = httpx.get(f"{self.aggregator.url}/v1/spaces/{space_id}", timeout=5)
        if response.status_code == 404:
            return None
        assert response.status_code == 200, response.text
        return int(response.json()["observation_count"])

    def drained(self) -> bool:
        state = self.outbox()
        return bool(state["depth"] == 0 and state["pending"] == 0)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Iterator[Stack]:
    logs = tmp_path_factory.mktemp("fault-logs")
    redis = RedisServer(logs / "redis", persist=True).start()  # restartable without loss
    classifier = ServiceProcess(
        "classifier", {"CLASSIFIER_MODEL_DIR": str(model_dir)}, log_path=logs / "classifier.log"
    )
    # Deliveries that wait out an outage arrive out of capture order: the aggregator fuses the
    # far-late ones only into `late_count`, but counts every distinct frame in observation_count.
    aggregator = ServiceProcess(
        "aggregator", {"AGGREGATOR_REDIS_URL": f"{redis.url}/1"}, log_path=logs / "aggregator.log"
    )
    ingest = ServiceProcess(
        "camera_ingest",
        {
            **INGEST_ENV,
            "INGEST_REDIS_URL": f"{redis.url}/0",
            "INGEST_CLASSIFIER_URL": classifier.url,
            "INGEST_AGGREGATOR_URL": aggregator.url,
        },
        log_path=logs / "ingest.log",
    )
    started: list[ServiceProcess] = []
    try:
        for service in (classifier, aggregator, ingest):
            service.start(timeout=90)
            started.append(service)
        yield Stack(redis, classifier, aggregator, ingest)
    finally:
        for service in reversed(started):
            service.stop()
        redis.stop()


def wait_all_delivered(stack: Stack, expected: dict[str, int], timeout: float = 120) -> None:
    """Outbox empty, nothing dead, and each space's observation_count exactly as expected."""
    wait_until(stack.drained, timeout=timeout, interval=0.2, what="outbox drained")
    assert stack.outbox()["dead"] == 0
    counts = {space: stack.evidence(space) for space in expected}
    assert counts == expected
