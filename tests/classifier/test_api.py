"""The v1 API and the operational endpoints, against the real app and the real model."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from classifier.config import Settings
from classifier.model import ModelRuntime, discover
from classifier.preprocess import preprocess
from tests.classifier.conftest import AppClient, start_client

JPEG = {"Content-Type": "image/jpeg"}


def metric(client: AppClient, name: str) -> float:
    text = client.get("/metrics").text
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    )


def test_health_ready_and_docs(client: AppClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/predict", "/v1/predict/batch", "/v1/models", "/v2/models/{name}/infer"} <= set(
        paths
    )
    assert "image/jpeg" in paths["/v1/predict"]["post"]["requestBody"]["content"]
    assert client.get("/docs").status_code == 200


def test_models_describe_what_is_served(client: AppClient, model_dir: Path) -> None:
    infos = {(i.name, i.version): i for i in discover(model_dir)}
    listing = client.get("/v1/models").json()
    assert listing["default_model"] == min(infos)[0]
    served = {(m["name"], v["version"]) for m in listing["models"] for v in m["versions"]}
    assert served == set(infos)
    model = client.get(f"/v1/models/{listing['default_model']}").json()
    assert model in listing["models"]
    version = model["versions"][-1]
    assert version["version"] == model["default_version"]
    info = infos[(model["name"], version["version"])]
    assert version["sha256"] == info.sha256
    assert version["labels"] == ["cat", "dog", "other"]
    assert version["input_shape"] == [None, 3, 224, 224]
    assert version["ready"] is True
    assert version["other_threshold"] == info.other_threshold
    assert "resize" in version["preprocessing"]


def test_unknown_model_and_version_are_404(client: AppClient, sample_dir: Path) -> None:
    photo = (sample_dir / "cat" / "oxpet-001.jpg").read_bytes()
    assert client.get("/v1/models/nope").status_code == 404
    missing = client.post("/v1/predict?model=nope", content=photo, headers=JPEG)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    name = client.get("/v1/models").json()["default_model"]
    wrong = client.post(f"/v1/predict?model={name}&version=999", content=photo, headers=JPEG)
    assert wrong.status_code == 404
    assert "999" in wrong.json()["detail"]


def test_predict_raw_body_matches_the_runtime(
    client: AppClient, model_dir: Path, sample_dir: Path
) -> None:
    photo = (sample_dir / "dog" / "oxpet-021.jpg").read_bytes()
    response = client.post("/v1/predict", content=photo, headers=JPEG)
    assert response.status_code == 200
    body = response.json()
    (info,) = [
        i for i in discover(model_dir) if (i.name, i.version) == (body["model"], body["version"])
    ]
    runtime = ModelRuntime(info)
    runtime.load()
    expected = runtime.predict(preprocess(photo, max_pixels=10**8)[None])[0]
    assert body["label"] == expected.label == "dog"
    assert body["probabilities"] == pytest.approx(expected.probabilities, abs=1e-5)
    assert sum(body["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    uuid.UUID(body["prediction_id"])


def test_predict_multipart_equals_raw(client: AppClient, sample_dir: Path) -> None:
    photo = (sample_dir / "cat" / "oxpet-021.jpg").read_bytes()
    raw = client.post("/v1/predict", content=photo, headers=JPEG).json()
    files = {"image": ("x.jpg", photo, "image/jpeg")}
    multi = client.post("/v1/predict", files=files).json()
    assert multi["label"] == raw["label"] == "cat"
    assert multi["probabilities"] == raw["probabilities"]
    assert multi["prediction_id"] != raw["prediction_id"]


def test_predict_with_explicit_model_and_version(client: AppClient, sample_dir: Path) -> None:
    model = client.get("/v1/models").json()["models"][0]
    version = model["versions"][0]["version"]
    photo = (sample_dir / "none" / "mpl-001.jpg").read_bytes()
    url = f"/v1/predict?model={model['name']}&version={version}"
    body = client.post(url, content=photo, headers={"Content-Type": "image/jpeg"}).json()
    assert (body["model"], body["version"], body["label"]) == (model["name"], version, "other")


def test_batch_labels_every_sample_in_order(
    client: AppClient, samples: list[tuple[Path, str]]
) -> None:
    files = [("images", (p.name, p.read_bytes(), "image/jpeg")) for p, _ in samples]
    body = client.post("/v1/predict/batch", files=files).json()
    assert body["count"] == len(samples)
    assert body["failed"] == 0
    assert [r["index"] for r in body["results"]] == list(range(len(samples)))
    assert [r["label"] for r in body["results"]] == [label for _, label in samples]
    assert [r["filename"] for r in body["results"]] == [p.name for p, _ in samples]


def test_batch_reports_bad_items_without_failing(client: AppClient, sample_dir: Path) -> None:
    good = (sample_dir / "dog" / "oxpet-041.jpg").read_bytes()
    files = [
        ("images", ("a.jpg", good, "image/jpeg")),
        ("images", ("b.jpg", b"not an image at all", "image/jpeg")),
        ("images", ("c.jpg", good[: len(good) // 3], "image/jpeg")),
        ("images", ("d.jpg", good, "image/jpeg")),
    ]
    response = client.post("/v1/predict/batch", files=files)
    body = response.json()
    ok, garbage, truncated, ok2 = body["results"]
    assert ok["label"] == ok2["label"] == "dog"
    assert (garbage["error"]["status"], garbage["filename"]) == (422, "b.jpg")
    assert (truncated["error"]["status"], truncated["index"]) == (422, 2)
    assert body["failed"] == 2
    error = garbage["error"]  # each failed item's problem is in the one dialect
    assert error["type"] == "https://shelter-watch.example/problems/corrupt-image"
    assert error["title"] == "Corrupt image"
    assert error["instance"] == "/v1/predict/batch"
    assert error["request_id"] == response.headers["x-request-id"]


def test_batch_refuses_too_many_and_no_images(
    client: AppClient, settings: Settings, sample_dir: Path
) -> None:
    small = (sample_dir / "none" / "mpl-001.jpg").read_bytes()[:10]
    files = [
        ("images", (f"{i}.jpg", small, "image/jpeg")) for i in range(settings.max_batch_items + 1)
    ]
    assert client.post("/v1/predict/batch", files=files).status_code == 413
    empty = client.post("/v1/predict/batch", files={"note": (None, "hello")})
    assert empty.status_code == 422


def test_request_id_is_echoed_or_made(client: AppClient) -> None:
    mine = client.get("/healthz", headers={"X-Request-ID": "abc-123.X_y"})
    assert mine.headers["x-request-id"] == "abc-123.X_y"
    hostile = client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert hostile.headers["x-request-id"] != "bad id\twith spaces"
    assert len(hostile.headers["x-request-id"]) == 32
    error = client.post("/v1/predict", content=b"x", headers={**JPEG, "X-Request-ID": "rid-9"})
    assert error.json()["request_id"] == "rid-9"


def test_metrics_count_successes_failures_and_batches(client: AppClient, sample_dir: Path) -> None:
    photo = (sample_dir / "cat" / "oxpet-041.jpg").read_bytes()
    before = {
        n: metric(client, n)
        for n in (
            "nv_inference_request_success_total",
            "nv_inference_request_failure_total",
            "nv_inference_count_total",
            "nv_inference_batch_size_count",
        )
    }
    assert client.post("/v1/predict", content=photo, headers=JPEG).status_code == 200
    assert client.post("/v1/predict", content=b"junk", headers=JPEG).status_code == 422
    assert (
        metric(client, "nv_inference_request_success_total")
        == before["nv_inference_request_success_total"] + 1
    )
    assert (
        metric(client, "nv_inference_request_failure_total")
        == before["nv_inference_request_failure_total"] + 1
    )
    assert metric(client, "nv_inference_count_total") == before["nv_inference_count_total"] + 1
    text = client.get("/metrics").text
    assert "nv_inference_queue_duration_seconds_bucket" in text
    assert "nv_inference_compute_infer_duration_seconds_bucket" in text


def test_not_ready_without_models(tmp_path: Path, sample_dir: Path) -> None:
    client = start_client(Settings(model_dir=tmp_path / "empty"), wait_ready=False)
    try:
        assert client.get("/healthz").status_code == 200
        assert client.get("/v2/health/live").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.headers["retry-after"]
        assert "no model" in ready.json()["detail"]
        assert client.get("/v2/health/ready").status_code == 503
        photo = (sample_dir / "cat" / "oxpet-001.jpg").read_bytes()
        assert client.post("/v1/predict", content=photo, headers=JPEG).status_code == 404
    finally:
        client.close()


def test_broken_metadata_is_not_ready_and_says_why(tmp_path: Path) -> None:
    version = tmp_path / "broken" / "1"
    version.mkdir(parents=True)
    (version / "model.onnx").write_bytes(b"\x00")
    (version / "metadata.json").write_text(json.dumps({"name": "broken"}))
    client = start_client(Settings(model_dir=tmp_path), wait_ready=False)
    try:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert "metadata" in ready.json()["detail"]
    finally:
        client.close()


def test_other_threshold_setting_overrides_the_metadata(
    client: AppClient, settings: Settings, sample_dir: Path
) -> None:
    photo = (sample_dir / "cat" / "oxpet-041.jpg").read_bytes()
    usual = client.post("/v1/predict", content=photo, headers=JPEG).json()
    animal = usual["probabilities"]["cat"] + usual["probabilities"]["dog"]
    assert usual["label"] == "cat"
    assert animal < 1.0
    threshold = (animal + 1.0) / 2  # just above this photo's P(cat) + P(dog)
    strict = start_client(settings.model_copy(update={"other_threshold": threshold}))
    try:
        version = strict.get("/v1/models").json()["models"][0]["versions"][-1]
        assert version["other_threshold"] == threshold
        body = strict.post("/v1/predict", content=photo, headers=JPEG).json()
        assert body["probabilities"] == pytest.approx(usual["probabilities"], abs=1e-6)
        assert body["label"] == "other"
    finally:
        strict.close()
