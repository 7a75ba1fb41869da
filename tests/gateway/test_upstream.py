"""Upstream hygiene: retries only for idempotent requests on connection errors, a breaker per
upstream (503 + Retry-After while open), a timeout and a body limit per route kind, and 502 /
503 / 504 as problem+json naming the upstream, never its URL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.gateway.conftest import ADMIN, GatewayFactory, assert_problem
from tests.gateway.upstreams import Control, DroppingFront

H = {"X-API-Key": ADMIN}


@pytest.fixture
def dropping(upstreams: dict[str, str]) -> Iterator[DroppingFront]:
    """The aggregator behind a front that drops the first connection."""
    port = int(upstreams["aggregator"].rsplit(":", 1)[1])
    front = DroppingFront(port, drops=1).start()
    yield front
    front.stop()


@pytest.mark.parametrize(
    ("method", "path", "headers", "retried"),
    [
        ("GET", "/api/v1/spaces/r1", {}, True),
        ("PUT", "/api/v1/animals/r1", {"Idempotency-Key": "idem-1"}, True),
        ("PUT", "/api/v1/animals/r1", {}, False),
        ("POST", "/api/v1/alerts/r1/ack", {}, False),
    ],
)
def test_only_idempotent_requests_are_retried_on_a_connection_error(
    gateway_factory: GatewayFactory, dropping: DroppingFront, control: Control,
    method, path, headers, retried,
):  # fmt: skip
    url = gateway_factory(aggregator_url=dropping.url, retry_backoff_s=0.01)
    control.seen.clear()
    body = b'{"name": "Tom"}' if method != "GET" else None
    response = httpx.request(method, url + path, headers={**H, **headers}, content=body,
                             timeout=10)  # fmt: skip
    if retried:
        assert response.status_code == 200, response.text
        assert response.json()["body_len"] == len(body or b"")  # the whole body, sent again
        assert control.seen == [(method, path.replace("/api", ""))]
    else:
        body_json = assert_problem(response, 502, "upstream-unavailable")
        assert "aggregator" in body_json["detail"]
        assert "127.0.0.1" not in response.text  # the upstream's name, never its URL
        assert control.seen == []
    assert dropping.accepted == (2 if retried else 1)


def test_a_timeout_is_never_retried(gateway_factory: GatewayFactory):
    url = gateway_factory(read_timeout_s=0.3)
    response = httpx.get(url + "/api/v1/spaces/hang", headers=H, timeout=10)
    assert_problem(response, 504, "upstream-timeout")
    metrics = httpx.get(url + "/metrics", timeout=10).text
    asked = 'gateway_upstream_requests_total{outcome="timeout",upstream="aggregator"} 1.0'
    assert asked in metrics  # one attempt, not two


def test_breaker_opens_after_failures_and_answers_503(gateway_factory: GatewayFactory, dead_url):
    url = gateway_factory(classifier_url=dead_url, breaker_failures=3, breaker_reset_s=30,
                          retry_attempts=0)  # fmt: skip
    with httpx.Client(base_url=url, headers=H, timeout=10) as c:
        first = [c.get("/api/v1/classifier/models").status_code for _ in range(3)]
        opened = c.get("/api/v1/classifier/models")
        other = c.get("/api/v1/spaces")  # another upstream: its own breaker, closed
        metrics = c.get("/metrics").text
    assert first == [502] * 3
    body = assert_problem(opened, 503, "upstream-circuit-open")
    retry_after = int(opened.headers["retry-after"])
    assert 1 <= retry_after <= 30
    assert f"retry after {retry_after}s" in body["detail"]
    assert "classifier" in body["detail"]
    assert other.status_code == 200
    assert 'gateway_breaker_open{upstream="classifier"} 1.0' in metrics
    assert (
        'gateway_upstream_requests_total{outcome="circuit_open",upstream="classifier"}' in metrics
    )


def test_breaker_half_opens_and_closes_once_the_upstream_answers(
    gateway_factory: GatewayFactory, upstreams: dict[str, str]
):
    port = int(upstreams["aggregator"].rsplit(":", 1)[1])
    front = DroppingFront(port, drops=2).start()
    try:
        url = gateway_factory(aggregator_url=front.url, breaker_failures=2, breaker_reset_s=0.3,
                              retry_attempts=0)  # fmt: skip
        with httpx.Client(base_url=url, headers=H, timeout=10) as c:
            assert [c.get("/api/v1/summary").status_code for _ in range(2)] == [502, 502]
            assert c.get("/api/v1/summary").status_code == 503
            from tests.servers import eventually

            eventually(lambda: c.get("/api/v1/summary").status_code == 200, timeout=5,
                       interval=0.1, what="the breaker to let a trial through")  # fmt: skip
            assert c.get("/api/v1/summary").status_code == 200
    finally:
        front.stop()


def test_timeouts_are_per_route_kind(gateway_factory: GatewayFactory, control: Control):
    url = gateway_factory(read_timeout_s=0.3, frame_timeout_s=20)
    read = httpx.get(url + "/api/v1/spaces/hang", headers=H, timeout=10)
    assert_problem(read, 504, "upstream-timeout")
    timer = threading.Timer(1.0, control.release.set)  # longer than the read timeout
    timer.start()
    try:
        frame = httpx.put(url + "/api/v1/cameras/hang/frame", headers=H, content=b"j",
                          timeout=10)  # fmt: skip
    finally:
        timer.cancel()
        control.release.set()
        control.release.clear()
    assert frame.status_code == 200  # the frame kind's 20 s, not the read kind's 0.3 s


def test_a_batch_job_may_wait_for_its_answer_longer_than_a_model_upload(
    gateway_factory: GatewayFactory, control: Control
):
    """The batch service answers once an archive is saved and expanded: the upload kind's own
    timeout, not the model kind's."""
    url = gateway_factory(read_timeout_s=0.3, json_timeout_s=0.3, model_timeout_s=0.3,
                          upload_timeout_s=20)  # fmt: skip
    model = httpx.post(url + "/api/v2/models/m/infer?hang=1", headers=H, content=b"t",
                       timeout=10)  # fmt: skip
    assert_problem(model, 504, "upstream-timeout")
    timer = threading.Timer(1.0, control.release.set)  # longer than every other kind's timeout
    timer.start()
    try:
        job = httpx.post(url + "/api/v1/batch/jobs?hang=1", content=b"PK\x03\x04",
                         headers={**H, "Content-Type": "application/zip"}, timeout=10)  # fmt: skip
    finally:
        timer.cancel()
        control.release.set()
        control.release.clear()
    assert job.status_code == 200, job.text
    assert job.json()["service"] == "batch"


def test_a_long_results_download_outlasts_the_read_timeout(
    gateway_factory: GatewayFactory, control: Control
):
    """The read kind's timeout bounds each wait for the next chunk, not the whole body: a
    download that takes longer than the timeout, chunk after chunk, comes through whole."""
    url = gateway_factory(read_timeout_s=1.0)
    control.drip_gap_s = 0.1
    started = time.monotonic()
    response = httpx.get(url + "/api/v1/batch/jobs/j1/results?format=csv&drip=15", headers=H,
                         timeout=10)  # fmt: skip
    took = time.monotonic() - started
    assert response.status_code == 200
    assert response.text == "".join(f"row {n}\n" for n in range(15))
    assert took > 1.0  # longer than the read timeout, and nothing cut it short
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == 'attachment; filename="results.csv"'


@pytest.fixture(scope="module")
def limited(gateway_factory: GatewayFactory) -> str:
    return gateway_factory(max_json_bytes=100, max_frame_bytes=1000, max_model_bytes=5000,
                           max_upload_bytes=20_000)  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "size", "status"),
    [
        ("POST", "/api/v1/animals", 101, 413),  # JSON: 100 bytes
        ("POST", "/api/v1/animals", 100, 200),
        ("PUT", "/api/v1/cameras/c1/frame", 1000, 200),  # frame: 1000 bytes
        ("PUT", "/api/v1/cameras/c1/frame", 1001, 413),
        ("POST", "/api/v1/classifier/predict", 1001, 413),
        ("POST", "/api/v2/models/m/infer", 5000, 200),  # model: 5000 bytes
        ("POST", "/api/v2/models/m/infer", 5001, 413),
        ("PUT", "/api/v1/classifier/models/m/versions/2", 5000, 200),
        ("POST", "/api/v1/batch/jobs", 20_000, 200),  # upload: 20,000 bytes
        ("POST", "/api/v1/batch/jobs", 20_001, 413),
        ("POST", "/api/v1/batch/jobs/j1/cancel", 101, 413),  # JSON
    ],
)
def test_body_limits_are_per_route_kind(limited: str, method, path, size, status):
    url = limited
    response = httpx.request(method, url + path, headers=H, content=b"x" * size, timeout=10)
    if status == 413:
        assert_problem(response, 413, "body-too-large")
    else:
        assert response.status_code == status, response.text
        assert response.json()["body_len"] == size


def test_a_batch_job_as_json_has_the_upload_limit_too(limited: str):
    """URL and frame jobs are JSON on the same route: the route's kind, not the body's type."""
    body = b'{"source": {"kind": "urls", "urls": ["https://example.org/' + b"x" * 9000 + b'"]}}'
    response = httpx.post(limited + "/api/v1/batch/jobs", content=body, timeout=10,
                          headers={**H, "Content-Type": "application/json"})  # fmt: skip
    assert response.status_code == 200, response.text  # over the JSON and model limits
    assert response.json()["body_len"] == len(body)
