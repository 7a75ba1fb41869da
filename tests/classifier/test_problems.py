"""The one problem dialect (shelter-kit's) on the classifier: 404, 422, 415 and an unexpected 500
each as problem+json with the request id; /v2 bodies with Triton's `error`; HEAD like GET."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from classifier.model import ModelRuntime, discover
from classifier.served import ServedModel
from tests.classifier.conftest import AppClient

TYPE_BASE = "https://shelter-watch.example/problems/"


def problem_of(
    response: httpx.Response, status: int, code: str, title: str, rid: str
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-request-id"] == rid
    body: dict[str, Any] = response.json()
    assert body["type"] == TYPE_BASE + code
    assert body["title"] == title
    assert body["status"] == status
    assert body["instance"] == response.request.url.path
    assert body["request_id"] == rid
    assert body["detail"]
    return body


@pytest.fixture(scope="module")
def model_name(model_dir: Path) -> str:
    return discover(model_dir)[0].name


def test_404s(client: AppClient) -> None:
    rid = {"X-Request-ID": "rid-404"}
    body = problem_of(
        client.get("/v1/models/nope", headers=rid),
        404,
        "model-not-found",
        "Model not found",
        "rid-404",
    )
    assert "nope" in body["detail"]
    problem_of(client.get("/v1/nowhere", headers=rid), 404, "not-found", "Not found", "rid-404")


def test_422s(client: AppClient, model_name: str) -> None:
    rid = {"X-Request-ID": "rid-422"}
    corrupt = client.post(
        "/v1/predict", content=b"junk", headers={**rid, "Content-Type": "image/png"}
    )
    problem_of(corrupt, 422, "corrupt-image", "Corrupt image", "rid-422")
    invalid = client.post(f"/v2/models/{model_name}/infer", content=b"{nope", headers=rid)
    body = problem_of(invalid, 422, "validation-error", "Validation error", "rid-422")
    assert body["errors"]


def test_an_unexpected_error_is_a_500_problem_with_the_request_id(
    client: AppClient, sample_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug, with s3cr3t inside")

    monkeypatch.setattr(ServedModel, "classify", broken)
    photo = (sample_dir / "cat" / "oxpet-001.jpg").read_bytes()
    headers = {"X-Request-ID": "rid-500", "Content-Type": "image/jpeg"}
    response = client.post("/v1/predict", content=photo, headers=headers)
    body = problem_of(response, 500, "internal-error", "Internal error", "rid-500")
    assert "rid-500" in body["detail"]
    assert "s3cr3t" not in response.text


def test_a_batch_without_content_type_is_415_not_500(client: AppClient) -> None:
    response = client.post("/v1/predict/batch", content=b"x", headers={"X-Request-ID": "rid-415"})
    body = problem_of(response, 415, "unsupported-media-type", "Unsupported media type", "rid-415")
    assert "multipart/form-data" in body["detail"]
    raw_image = client.post(
        "/v1/predict/batch",
        content=b"\xff\xd8",
        headers={"Content-Type": "image/jpeg", "X-Request-ID": "rid-415"},
    )
    problem_of(raw_image, 415, "unsupported-media-type", "Unsupported media type", "rid-415")


def test_instance_is_the_public_path_behind_the_gateway(client: AppClient) -> None:
    headers = {"X-Forwarded-Uri": "/api/v1/classifier/models/nope?x=1"}
    body = client.get("/v1/models/nope", headers=headers).json()
    assert body["instance"] == "/api/v1/classifier/models/nope"


def test_v2_problems_carry_triton_error_member(
    client: AppClient, model_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rid = {"X-Request-ID": "rid-v2"}
    missing = client.get("/v2/models/nope", headers=rid)
    body = problem_of(missing, 404, "model-not-found", "Model not found", "rid-v2")
    assert body["error"] == body["detail"]
    assert int(missing.headers["content-length"]) == len(missing.content)

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(ServedModel, "infer", broken)
    inputs = [{"name": "images", "shape": [1, 3, 224, 224], "datatype": "FP32"}]
    inputs[0]["data"] = [0.0] * (3 * 224 * 224)
    crash = client.post(f"/v2/models/{model_name}/infer", json={"inputs": inputs}, headers=rid)
    body = problem_of(crash, 500, "internal-error", "Internal error", "rid-v2")
    assert body["error"] == body["detail"]
    v1 = client.get("/v1/models/nope", headers=rid).json()
    assert "error" not in v1  # only /v2 speaks Triton


def test_head_answers_wherever_get_does(client: AppClient, model_name: str) -> None:
    for path in ("/healthz", "/readyz", "/metrics", "/v1/models", f"/v2/models/{model_name}"):
        response = client.request("HEAD", path)
        assert response.status_code == 200, path
        assert response.content == b""
    assert client.request("HEAD", "/v1/models/nope").status_code == 404


def test_readyz_lists_the_model_check(client: AppClient) -> None:
    assert client.get("/readyz").json() == {"status": "ready", "checks": {"models": "ok"}}


def test_one_readiness_flag_drives_every_answer(
    client: AppClient, sample_dir: Path, model_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ModelRuntime, "ready", property(lambda self: False))
    photo = (sample_dir / "cat" / "oxpet-001.jpg").read_bytes()
    headers = {"X-Request-ID": "rid-503", "Content-Type": "image/jpeg"}
    response = client.post("/v1/predict", content=photo, headers=headers)
    body = problem_of(response, 503, "model-not-ready", "Model not ready", "rid-503")
    assert "loading" in body["detail"]
    assert response.headers["retry-after"] == "1"
    readyz = client.get("/readyz", headers=headers)
    assert "loading" in problem_of(readyz, 503, "not-ready", "Not ready", "rid-503")["detail"]
    assert client.get("/v2/health/ready").status_code == 503
    assert client.get(f"/v2/models/{model_name}/ready").status_code == 503
    versions = client.get("/v1/models").json()["models"][0]["versions"]
    assert {v["ready"] for v in versions} == {False}
