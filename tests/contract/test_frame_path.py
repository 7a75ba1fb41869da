"""Contracts along the frame's path, checked on real responses of real processes.

Wire schemas are not shared as code: each consumer models the fields it reads. These tests hold
each producer's real answers against the consumer's own model, so a producer that renames or
drops a field, or a consumer that starts to send what the producer refuses, fails here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import TypeAdapter

from aggregator.schemas import FrameId as AggregatorFrameId
from aggregator.schemas import Id as AggregatorId
from aggregator.schemas import ObservationIn, ObservationResult
from camera_ingest.frames import new_frame_id
from camera_ingest.intake import utc_now
from camera_ingest.schemas import Classification, Observation, Token
from tests.servers import RedisServer, ServiceProcess

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def classifier(model_dir: Path) -> Iterator[ServiceProcess]:
    proc = ServiceProcess("classifier", {"CLASSIFIER_MODEL_DIR": str(model_dir)}).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def aggregator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    redis = RedisServer(tmp_path_factory.mktemp("contract-redis")).start()
    proc = ServiceProcess("aggregator", {"AGGREGATOR_REDIS_URL": f"{redis.url}/1"}).start()
    yield proc
    proc.stop()
    redis.stop()


def classify(classifier: ServiceProcess, photo: Path) -> httpx.Response:
    return httpx.post(
        f"{classifier.url}/v1/predict",
        content=photo.read_bytes(),
        headers={"Content-Type": "image/jpeg"},
        timeout=30,
    )


def test_classifier_answers_what_ingest_reads(classifier: ServiceProcess, sample_dir: Path) -> None:
    for folder in ("cat", "dog", "none"):
        photo = sorted((sample_dir / folder).glob("*.jpg"))[0]
        resp = classify(classifier, photo)
        assert resp.status_code == 200, resp.text
        read = Classification.model_validate_json(resp.content)
        assert read.label in {"cat", "dog", "other"}
        assert set(read.probabilities) == {"cat", "dog", "other"}


def test_ingest_observation_is_accepted_by_the_aggregator(
    classifier: ServiceProcess, aggregator: ServiceProcess, sample_dir: Path
) -> None:
    photo = sorted((sample_dir / "cat").glob("*.jpg"))[0]
    read = Classification.model_validate_json(classify(classifier, photo).content)
    # Built exactly as camera-ingest's delivery worker builds it, from ingest's own parts.
    observation = Observation(
        frame_id=new_frame_id(),
        camera_id="cam-contract",
        space_id="space-contract",
        captured_at=utc_now(),
        label=read.label,
        probabilities=read.probabilities,
        model=read.model,
        model_version=read.version,
        prediction_id=read.prediction_id,
        role=read.role,
        strategy=read.strategy,
    )
    assert None not in (read.prediction_id, read.role, read.strategy)  # the classifier sends them
    body = observation.model_dump_json(exclude_none=True)  # as ingest's client sends it
    ObservationIn.model_validate_json(body)

    url = f"{aggregator.url}/v1/observations"
    headers = {"Content-Type": "application/json"}
    first = httpx.post(url, content=body, headers=headers, timeout=10)
    again = httpx.post(url, content=body, headers=headers, timeout=10)
    # Ingest treats 201 as delivered and 200 as "already delivered": both must be success.
    assert (first.status_code, again.status_code) == (201, 200), first.text
    assert ObservationResult.model_validate_json(again.content).duplicate is True


def test_every_id_ingest_accepts_fits_the_aggregator() -> None:
    """A camera or space id that ingest accepts but the aggregator refuses would dead-letter
    every frame of that camera: ingest's id rule must be at least as strict."""
    ingest_token = TypeAdapter(Token)
    aggregator_id = TypeAdapter(AggregatorId)
    aggregator_frame = TypeAdapter(AggregatorFrameId)
    longest = "A" * 64
    for candidate in (longest, "kennel-1", "a.b_c-d", "0"):
        ingest_token.validate_python(candidate)
        aggregator_id.validate_python(candidate)
    with pytest.raises(ValueError, match="string"):
        ingest_token.validate_python(longest + "A")
    aggregator_frame.validate_python(new_frame_id())


@pytest.mark.parametrize("package", ["classifier", "aggregator"])
def test_errors_are_problem_details(
    package: str, classifier: ServiceProcess, aggregator: ServiceProcess
) -> None:
    service = {"classifier": classifier, "aggregator": aggregator}[package]
    path = {"classifier": "/v1/models/no-such-model", "aggregator": "/v1/spaces/no-such-space"}
    resp = httpx.get(
        service.url + path[package], headers={"X-Request-ID": "contract-1"}, timeout=10
    )
    assert resp.status_code == 404
    assert resp.headers["content-type"].startswith("application/problem+json")
    problem = resp.json()
    assert {"type", "title", "status", "detail", "instance"} <= set(problem)
    assert problem["status"] == 404
    assert problem["request_id"] == "contract-1"
    assert resp.headers["x-request-id"] == "contract-1"
