"""Server-sent events against a real uvicorn process: order, resume, heartbeat, clean shutdown."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.aggregator.conftest import observation
from tests.servers import ServiceProcess

pytestmark = pytest.mark.slow


@pytest.fixture
def aggregator(redis_url: str) -> Iterator[ServiceProcess]:
    env = {
        "AGGREGATOR_REDIS_URL": redis_url,
        "AGGREGATOR_SSE_BLOCK_MS": "200",
        "AGGREGATOR_SSE_HEARTBEAT_S": "0.5",
    }
    service = ServiceProcess("aggregator", env).start()  # log_path leaks a file handle
    yield service
    service.stop()


def read_events(
    response: httpx.Response, count: int, *, heartbeat: bool = False
) -> list[dict[str, Any]]:
    """Parse SSE frames until `count` events (and, if asked, one heartbeat) have arrived."""
    events: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    beat = not heartbeat
    for line in response.iter_lines():
        if line == ": heartbeat":
            beat = True
        elif line.startswith(("id: ", "event: ", "data: ")):
            field, value = line.split(": ", 1)
            current[field] = json.loads(value) if field == "data" else value
        elif line == "" and current:
            events.append(current)
            current = {}
        if len(events) >= count and beat:
            return events
    raise AssertionError(f"stream ended after {len(events)} events")


def post_frames(url: str, names: list[str]) -> None:
    now = datetime.now(UTC)
    for name in names:
        response = httpx.post(f"{url}/v1/observations", json=observation(name, base=now), timeout=5)
        assert response.status_code == 201


def test_events_arrive_in_order_and_resume_from_last_event_id(aggregator):
    url = aggregator.url
    post_frames(url, ["e1", "e2", "e3", "e4"])
    with httpx.stream(
        "GET", f"{url}/v1/events", headers={"Last-Event-ID": "0-0"}, timeout=10
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        everything = read_events(response, 4)
    assert [e["data"]["frame_id"] for e in everything] == ["e1", "e2", "e3", "e4"]
    assert all(e["event"] == "space.updated" for e in everything)
    ids = [tuple(map(int, e["id"].split("-"))) for e in everything]
    assert ids == sorted(ids)
    assert len(set(ids)) == 4

    second = everything[1]["id"]
    with httpx.stream(
        "GET", f"{url}/v1/events", headers={"Last-Event-ID": second}, timeout=10
    ) as response:
        assert [e["data"]["frame_id"] for e in read_events(response, 2)] == ["e3", "e4"]
    with httpx.stream("GET", f"{url}/v1/events?last_event_id={second}", timeout=10) as response:
        assert [e["id"] for e in read_events(response, 2)] == [e["id"] for e in everything[2:]]


def test_new_stream_gets_live_events_and_heartbeats(aggregator):
    url = aggregator.url
    post_frames(url, ["old"])
    with httpx.stream("GET", f"{url}/v1/events", timeout=10) as response:
        post_frames(url, ["live"])  # the cursor was fixed before the headers came back
        events = read_events(response, 1, heartbeat=True)
    assert [e["data"]["frame_id"] for e in events] == ["live"]


@pytest.mark.parametrize("bad", ["nope", "18446744073709551616-0", "1-99999999999999999999"])
def test_bad_last_event_id_is_422(aggregator, bad):
    """Not an id, or parts past Redis's unsigned 64 bits (XREAD would refuse them)."""
    response = httpx.get(f"{aggregator.url}/v1/events", headers={"Last-Event-ID": bad}, timeout=5)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "https://shelter-watch.example/problems/bad-event-id"
    assert response.json()["request_id"] == response.headers["x-request-id"]


def test_shutdown_does_not_hang_on_open_streams(aggregator):
    with httpx.stream("GET", f"{aggregator.url}/v1/events", timeout=10) as response:
        lines = response.iter_lines()
        assert next(lines).startswith("retry:")  # the stream is open
        aggregator.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for _ in lines:  # heartbeats keep coming until the server ends the stream
            assert time.monotonic() < deadline, "the stream outlived the server's shutdown"
    # uvicorn re-raises the captured SIGTERM once its graceful shutdown is done, hence -15;
    # a hang would raise TimeoutExpired here.
    assert aggregator.proc.wait(timeout=10) in (0, -signal.SIGTERM)
