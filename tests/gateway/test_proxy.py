"""The gateway forwarding to real upstream HTTP servers: routes, headers, bodies, errors, SSE."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gateway.proxy import Proxy
from tests.gateway.conftest import ADMIN, GatewayFactory, Keys, assert_problem, issue
from tests.gateway.upstreams import Control

ROUTES = [
    ("GET", "/api/v1/cameras", "camera-ingest", "/v1/cameras"),
    ("GET", "/api/v1/cameras/cam-1", "camera-ingest", "/v1/cameras/cam-1"),
    ("GET", "/api/v1/frames/f-9", "camera-ingest", "/v1/frames/f-9"),
    ("GET", "/api/v1/outbox", "camera-ingest", "/v1/outbox"),
    ("GET", "/api/v1/spaces", "aggregator", "/v1/spaces"),
    ("GET", "/api/v1/spaces/kennel-3", "aggregator", "/v1/spaces/kennel-3"),
    ("GET", "/api/v1/animals/a-1", "aggregator", "/v1/animals/a-1"),
    ("GET", "/api/v1/summary", "aggregator", "/v1/summary"),
    ("GET", "/api/v1/alerts", "aggregator", "/v1/alerts"),
    ("POST", "/api/v1/alerts/al-2/ack", "aggregator", "/v1/alerts/al-2/ack"),
    ("POST", "/api/v1/classifier/predict", "classifier", "/v1/predict"),
    ("GET", "/api/v1/classifier/models", "classifier", "/v1/models"),
    ("POST", "/api/v2/models/pets/infer", "classifier", "/v2/models/pets/infer"),
    ("GET", "/api/v1/batch/jobs", "batch", "/v1/batch/jobs"),
    ("GET", "/api/v1/batch/jobs/j-1", "batch", "/v1/batch/jobs/j-1"),
    ("POST", "/api/v1/batch/jobs/j-1/cancel", "batch", "/v1/batch/jobs/j-1/cancel"),
]
SANE_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


def echo(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    seen: dict[str, Any] = response.json()
    return seen


@pytest.mark.parametrize(("method", "public", "service", "path"), ROUTES)
def test_every_prefix_reaches_its_upstream(client, method, public, service, path):
    params = {"a": "1", "b": "x y"}
    seen = echo(client.request(method, public, params=params, headers={"X-API-Key": ADMIN}))
    assert (seen["service"], seen["path"], seen["method"]) == (service, path, method)
    assert seen["query"] == "a=1&b=x+y"


UNROUTED = ["/api/v1/unknown", "/api/v1/spacesX", "/api/v3/x", "/nope", "/api/v1/observations",
            "/api/v1/observations/batch"]  # fmt: skip


@pytest.mark.parametrize("path", UNROUTED)
def test_unrouted_paths_are_404_problems(client, keys: Keys, path):
    response = client.post(path, headers={"X-API-Key": ADMIN}, json={})
    code = "not-found" if path == "/nope" else "route-not-found"  # /nope: no gateway route at all
    assert assert_problem(response, 404, code)["instance"] == path
    response = client.get(path, headers={"X-API-Key": keys.viewer})
    code = "not-found" if path == "/nope" else "route-not-found"  # /nope: no gateway route at all
    assert assert_problem(response, 404, code)["instance"] == path


def test_dot_segments_are_refused(gateway):
    # percent-encoded, so httpx sends the dots as they are and the gateway must see through them
    response = httpx.get(gateway + "/api/v1/cameras/x/%2e%2e/%2e%2e/outbox", timeout=10)
    assert_problem(response, 400, "bad-path")


def test_percent_encoding_is_kept(client, keys: Keys):
    seen = echo(client.get("/api/v1/spaces/a%2Fb", headers={"X-API-Key": keys.viewer}))
    assert seen["raw_path"] == "/v1/spaces/a%2Fb"


def test_request_id_generated_and_passed_on(client, keys: Keys):
    response = client.get("/api/v1/spaces", headers={"X-API-Key": keys.viewer})
    sent = echo(response)["headers"]["x-request-id"]
    assert SANE_ID.match(sent)
    assert response.headers["x-request-id"] == sent


def test_client_request_id_kept(client, keys: Keys):
    headers = {"X-API-Key": keys.viewer, "X-Request-ID": "abc.1-2_3"}
    response = client.get("/api/v1/spaces", headers=headers)
    assert echo(response)["headers"]["x-request-id"] == "abc.1-2_3"
    assert response.headers["x-request-id"] == "abc.1-2_3"


@pytest.mark.parametrize("bad", ["has space", "x" * 129, "semi;colon", "ümlaut".encode()])
def test_bad_request_id_replaced(client, keys: Keys, bad):
    headers = {"X-API-Key": keys.viewer, "X-Request-ID": bad}
    response = client.get("/api/v1/spaces", headers=headers)
    sent = echo(response)["headers"]["x-request-id"]
    assert sent != bad
    assert SANE_ID.match(sent)
    assert response.headers["x-request-id"] == sent


def test_headers_forwarded_and_hop_headers_dropped(client, keys: Keys):
    headers = {
        "X-API-Key": keys.camera,
        "Content-Type": "image/jpeg",
        "Idempotency-Key": "idem-7",
        "X-Forwarded-For": "10.0.0.1",
        "Cookie": "secret=1",
        "Accept": "application/json",
    }
    seen = echo(client.put("/api/v1/cameras/cam-1/frame", content=b"\xff\xd8" + b"j" * 498,
                           headers=headers))  # fmt: skip
    got = seen["headers"]
    assert seen["method"] == "PUT"
    assert seen["body_len"] == 500
    assert got["content-type"] == "image/jpeg"
    assert got["idempotency-key"] == "idem-7"
    assert got["accept"] == "application/json"
    assert got["x-forwarded-for"] == "10.0.0.1, 127.0.0.1"
    assert "cookie" not in got
    assert "x-api-key" not in got
    assert "authorization" not in got


def test_the_verified_key_id_is_passed_on_and_a_client_one_dropped(client, gateway: str):
    created = issue(gateway, "staff")
    got = echo(
        client.post(
            "/api/v1/classifier/feedback",
            json={},
            headers={"X-API-Key": created["secret"], "X-Key-Id": "key_forged"},
        )
    )
    assert got["headers"]["x-key-id"] == created["id"]
    assert created["secret"] not in str(got["headers"])
    boot = echo(client.get("/api/v1/spaces", headers={"X-API-Key": ADMIN}))
    assert boot["headers"]["x-key-id"] == "bootstrap"


def test_non_ascii_header_values_pass_through_unchanged(client, keys: Keys):
    """Header values are bytes, read as latin-1 by Starlette: the upstream sees the same bytes."""
    got = echo(client.get("/api/v1/spaces", headers={"X-API-Key": keys.viewer,
                                                     "Accept": b"t\xe9xt"}))  # fmt: skip
    assert got["headers"]["accept"] == "t\xe9xt"  # the echo decodes latin-1 too: byte 0xE9
    headers = {"X-API-Key": keys.camera, "Idempotency-Key": b"\xe9\xff"}
    put = client.put("/api/v1/cameras/cam-1/frame", content=b"x", headers=headers)
    assert echo(put)["headers"]["idempotency-key"] == "\xe9\xff"


def test_unexpected_error_is_a_500_problem_with_the_request_id(
    client, keys: Keys, monkeypatch, caplog
):
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(Proxy, "open", broken)
    with caplog.at_level(logging.ERROR, logger="shelter_kit.middleware"):
        response = client.get(
            "/api/v1/spaces", headers={"X-API-Key": keys.viewer, "X-Request-ID": "r-500"}
        )
    body = assert_problem(response, 500, "internal-error")
    assert body["request_id"] == "r-500"
    assert body["instance"] == "/api/v1/spaces"
    assert "secret internals" not in response.text
    assert "Traceback" not in response.text
    logged = [r for r in caplog.records if r.name == "shelter_kit.middleware" and r.exc_info]
    assert [getattr(r, "request_id", None) for r in logged] == ["r-500"]
    assert "RuntimeError" in logged[0].getMessage()


def test_location_rewritten_to_public_prefix(client, keys: Keys):
    response = client.put("/api/v1/cameras/cam-1/frame", content=b"x",
                          params={"status": "202", "location": "/v1/frames/f-1"},
                          headers={"X-API-Key": keys.camera})  # fmt: skip
    assert response.status_code == 202
    assert response.headers["location"] == "/api/v1/frames/f-1"


def test_batch_upload_streams_through_and_its_location_is_public(client, control: Control):
    """The archive reaches the batch service while the client is still sending it (a buffered
    body would arrive only once the client had sent it all), and the 202's Location is public."""
    control.body_started.clear()
    upstream_had_a_chunk: list[bool] = []

    def archive() -> Iterator[bytes]:
        yield b"PK\x03\x04" + b"a" * 65532
        upstream_had_a_chunk.append(control.body_started.wait(10))  # before the rest is sent
        for _ in range(31):
            yield b"b" * 65536

    job = "4f0c" * 8
    response = client.post(
        "/api/v1/batch/jobs",
        content=archive(),
        params={"target": "pets/1", "status": "202", "location": f"/v1/batch/jobs/{job}"},
        headers={"X-API-Key": ADMIN, "Content-Type": "application/zip"},
    )
    assert response.status_code == 202, response.text
    assert upstream_had_a_chunk == [True], "the body was buffered, not streamed through"
    assert response.headers["location"] == f"/api/v1/batch/jobs/{job}"
    seen = response.json()
    assert (seen["service"], seen["method"], seen["path"]) == ("batch", "POST", "/v1/batch/jobs")
    assert seen["body_len"] == 32 * 65536  # 2 MiB: over the JSON limit, within the upload one
    assert seen["body_head"].startswith("PK\x03\x04")
    assert seen["headers"]["content-type"] == "application/zip"
    assert seen["query"].startswith("target=pets%2F1&")


def test_upstream_error_status_and_retry_after_pass_through(client, keys: Keys):
    response = client.get("/api/v1/spaces/k", params={"status": "503", "retry_after": "7"},
                          headers={"X-API-Key": keys.viewer})  # fmt: skip
    assert response.status_code == 503
    assert response.headers["retry-after"] == "7"
    assert response.json()["service"] == "aggregator"


def test_declared_oversize_body_is_413(client):
    response = client.put("/api/v1/cameras/c/frame", content=b"x" * 1001,
                          headers={"X-API-Key": ADMIN})  # fmt: skip
    assert "1001 bytes" in assert_problem(response, 413, "body-too-large")["detail"]


def test_chunked_oversize_body_is_413(client):
    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b"y" * 100

    response = client.put("/api/v1/cameras/c/frame", content=chunks(), headers={"X-API-Key": ADMIN})
    assert_problem(response, 413, "body-too-large")


def test_chunked_body_within_limit_streams_through(client):
    def chunks() -> Iterator[bytes]:
        for _ in range(9):
            yield b"z" * 100

    response = client.put("/api/v1/cameras/c/frame", content=chunks(), headers={"X-API-Key": ADMIN})
    assert echo(response)["body_len"] == 900


def test_down_upstream_is_502_naming_it(gateway_factory: GatewayFactory, dead_url):
    url = gateway_factory(ingest_url=dead_url)
    response = httpx.get(url + "/api/v1/cameras", headers={"X-API-Key": ADMIN}, timeout=10)
    assert "camera-ingest" in assert_problem(response, 502, "upstream-unavailable")["detail"]
    metrics = httpx.get(url + "/metrics", timeout=10).text
    assert 'gateway_upstream_requests_total{outcome="unreachable",upstream="camera-ingest"}' in (
        metrics
    )


def test_hanging_upstream_is_504_naming_it(gateway_factory: GatewayFactory, keys: Keys):
    url = gateway_factory(read_timeout_s=0.3)
    response = httpx.get(url + "/api/v1/spaces/hang", headers={"X-API-Key": keys.viewer},
                         timeout=10)  # fmt: skip
    assert "aggregator" in assert_problem(response, 504, "upstream-timeout")["detail"]


def test_sse_events_pass_before_the_stream_ends(
    gateway_factory: GatewayFactory, control: Control, keys: Keys
):
    control.sse_gap_s = 0.6  # longer than the read timeout: SSE must have none
    url = gateway_factory(read_timeout_s=0.3)
    lines: list[str] = []
    headers = {"X-API-Key": keys.viewer, "Accept": "text/event-stream", "Last-Event-ID": "0"}
    with httpx.stream("GET", url + "/api/v1/events", headers=headers, timeout=10) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            lines.append(line)
            if line == "data: first":
                assert not control.sse_finished.is_set(), "first event arrived only at the end"
                control.sse_release.set()
    assert "data: first" in lines
    assert "data: second" in lines
    assert control.sse_finished.is_set()


def test_batch_job_events_stream_with_no_read_timeout(
    gateway_factory: GatewayFactory, control: Control
):
    control.sse_gap_s = 0.6  # longer than the read timeout
    control.sse_release.set()
    url = gateway_factory(read_timeout_s=0.3)
    headers = {"X-API-Key": ADMIN, "Accept": "text/event-stream"}
    try:
        with httpx.stream("GET", url + "/api/v1/batch/jobs/j1/events", headers=headers,
                          timeout=10) as response:  # fmt: skip
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["x-accel-buffering"] == "no"
            lines = list(response.iter_lines())
    finally:
        control.sse_gap_s = 0.0
    assert "data: first" in lines
    assert "data: second" in lines


@pytest.mark.parametrize("path", ["/api/v1/events", "/api/v1/spaces"])
def test_a_key_in_the_query_is_refused_even_with_a_header_key(client, keys: Keys, path):
    """Keys in URLs end up in logs: `?api_key=` (once accepted on the event stream) is a 400,
    whatever else authenticates the request, and nothing is forwarded."""
    response = client.get(path, params={"api_key": keys.viewer, "echo": "1"},
                          headers={"X-API-Key": keys.viewer})  # fmt: skip
    body = assert_problem(response, 400, "key-in-url")
    assert keys.viewer not in response.text
    assert "X-API-Key" in body["detail"]


def test_the_event_stream_takes_a_header_key(client, keys: Keys):
    # ?echo=1: the echo upstream answers /v1/events with the echo instead of a stream
    seen = echo(client.get("/api/v1/events?echo=1", headers={"X-API-Key": keys.viewer}))
    assert seen["headers"]["x-forwarded-uri"] == "/api/v1/events?echo=1"
