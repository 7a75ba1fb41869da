"""50 MB bodies, with and without Content-Length (chunked), at a body route of every service,
directly and through the gateway: a 413 problem+json, read from the socket while the client is
still writing, and the receiving process's memory back under its bound afterwards."""

from __future__ import annotations

import json

import pytest

from tests.hostile.conftest import Stack, send_big
from tests.hostile.corpus import MB

BIG = 50 * MB
# (service reached, method, target, content type): frames, images, JSON on each service
ROUTES = [
    ("camera-ingest", "PUT", "/v1/cameras/hostile-big/frame", "image/jpeg"),
    ("camera-ingest", "POST", "/v1/cameras", "application/json"),
    ("classifier", "POST", "/v1/predict", "image/jpeg"),
    ("classifier", "POST", "/v1/predict/batch", "multipart/form-data; boundary=x"),
    ("aggregator", "POST", "/v1/observations", "application/json"),
    ("batch", "POST", "/v1/batch/jobs", "application/json"),
    ("gateway", "PUT", "/api/v1/cameras/hostile-big/frame", "image/jpeg"),
    ("gateway", "POST", "/api/v1/classifier/predict", "image/png"),
    ("gateway", "POST", "/api/v1/animals", "application/json"),
    ("gateway", "POST", "/api/v1/keys", "application/json"),
]
RSS_BOUND_MB = {"camera-ingest": 250, "classifier": 700, "aggregator": 250, "batch": 250,
                "gateway": 250}  # fmt: skip


@pytest.fixture(scope="module")
def big_body() -> bytes:
    return b"\xff\xd8\xff\xe0" + b"\x00" * (BIG - 4)


@pytest.fixture(scope="module", autouse=True)
def a_camera(stack: Stack) -> None:
    body = json.dumps({"space_id": "hostile-space", "mode": "push"}).encode()
    stack.send("camera-ingest", "PUT", "/v1/cameras/hostile-big", body=body,
               content_type="application/json")  # fmt: skip


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize(("name", "method", "target", "kind"), ROUTES, ids=lambda v: str(v))
def test_a_50_mb_body_is_413(
    stack: Stack, big_body: bytes, name: str, method: str, target: str, kind: str, chunked: bool
) -> None:
    answer = send_big(
        stack, name, method, target, body=big_body, content_type=kind, chunked=chunked
    )
    # a non-multipart body under a multipart type fails to parse (422) before it is too big
    expected = (413, 422) if kind.startswith("multipart") else (413,)
    assert answer.status in expected, (answer.status, answer.body[:300])
    assert answer.content_type.startswith("application/problem+json"), answer.content_type
    assert stack.up(name)
    assert stack.rss_mb(name) < RSS_BOUND_MB[name], (name, stack.rss_mb(name))
