"""The image corpus at every route that takes a frame, directly and through the gateway, and the
one frame definition (`shelter_kit.images`): camera-ingest and the classifier give the same
verdict on every body, so a frame ingest accepts is never refused by the classifier later."""

from __future__ import annotations

import json

import pytest

from tests.hostile.conftest import Answer, Stack
from tests.hostile.corpus import Body, content_types, frames, valid_frames

PROBLEM = "application/problem+json"
CAMERA = "hostile-cam"
# (service reached, frame route) for each route that takes an image
INGEST_ROUTES = {
    "camera-ingest": f"/v1/cameras/{CAMERA}/frame",
    "gateway": f"/api/v1/cameras/{CAMERA}/frame",
}
CLASSIFIER_ROUTES = {"classifier": "/v1/predict", "gateway": "/api/v1/classifier/predict"}


@pytest.fixture(scope="module")
def camera(stack: Stack) -> str:
    body = json.dumps({"space_id": "hostile-space", "mode": "push"}).encode()
    answer = stack.send(
        "camera-ingest", "PUT", f"/v1/cameras/{CAMERA}", body=body, content_type="application/json"
    )
    assert answer.status in (200, 201), answer.body
    return CAMERA


def is_problem(answer: Answer, *statuses: int) -> dict[str, object]:
    assert answer.status in statuses, (answer.status, answer.body[:300])
    assert answer.content_type.startswith(PROBLEM), answer.content_type
    body = json.loads(answer.body)
    assert body["status"] == answer.status
    assert body["type"].startswith("https://shelter-watch.example/problems/")
    return dict(body)


def push(stack: Stack, via: str, body: Body) -> Answer:
    return stack.send(
        via, "PUT", INGEST_ROUTES[via], body=body.data, content_type=body.content_type
    )


def predict(stack: Stack, via: str, body: Body) -> Answer:
    return stack.send(
        via, "POST", CLASSIFIER_ROUTES[via], body=body.data, content_type=body.content_type
    )


@pytest.mark.parametrize("body", frames(), ids=lambda b: b.name)
def test_a_hostile_frame_is_a_problem_everywhere_and_both_agree(
    stack: Stack, camera: str, body: Body
) -> None:
    """413, 415 or 422 problem+json at ingest and at the classifier, directly and through the
    gateway; the same status from both services, since they apply one definition."""
    answers = {("ingest", via): push(stack, via, body) for via in INGEST_ROUTES} | {
        ("classifier", via): predict(stack, via, body) for via in CLASSIFIER_ROUTES
    }
    for (service, via), answer in answers.items():
        problem = is_problem(answer, 413, 415, 422)
        assert "Traceback" not in str(problem), (service, via)
    statuses = {key: answer.status for key, answer in answers.items()}
    assert len(set(statuses.values())) == 1, statuses


@pytest.mark.parametrize("body", valid_frames(), ids=lambda b: b.name)
def test_a_valid_frame_is_taken_by_both(stack: Stack, camera: str, body: Body) -> None:
    for via in INGEST_ROUTES:
        answer = push(stack, via, body)
        assert answer.status == 202, answer.body
    for via in CLASSIFIER_ROUTES:
        answer = predict(stack, via, body)
        assert answer.status == 200, answer.body
        assert json.loads(answer.body)["label"] in ("cat", "dog", "other")


@pytest.mark.parametrize("content_type", content_types())
def test_a_wrong_content_type_is_decided_alike(
    stack: Stack, camera: str, content_type: str | None
) -> None:
    """A valid JPEG under a non-image type: 415 at both (the classifier asks for an explicit
    image type, camera-ingest also takes none or octet-stream and reads the magic bytes)."""
    jpeg = valid_frames()[0].data
    generic = content_type in (None, "")
    for via in INGEST_ROUTES:
        answer = push(stack, via, Body("jpeg", jpeg, content_type))
        if generic:
            assert answer.status == 202, answer.body
        else:
            is_problem(answer, 415)
    for via in CLASSIFIER_ROUTES:
        is_problem(predict(stack, via, Body("jpeg", jpeg, content_type)), 415)


def test_a_refused_frame_leaves_the_outbox_as_it_was(stack: Stack, camera: str) -> None:
    before = json.loads(stack.send("camera-ingest", "GET", "/v1/outbox").body)
    for body in frames()[:6]:
        push(stack, "camera-ingest", body)
    after = json.loads(stack.send("camera-ingest", "GET", "/v1/outbox").body)
    assert after["dead"] == before["dead"]
    assert after["depth"] <= before["depth"]
