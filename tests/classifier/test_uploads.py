"""The registry's uploads over HTTP (in-process, real Redis, a store dir per test): a valid
model is validated, stored by its sha256 and served; every broken one is a 422 with the reason
and changes nothing; path tricks are refused; DELETE of a version in use is a 409."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from onnx import TensorProto

from tests.classifier.conftest import TINY, AppClient, deploy_settings, start_client, tiny_jpeg
from tests.classifier.onnx_models import tiny_model
from tests.servers import eventually

JPEG = {"Content-Type": "image/jpeg"}
META = {"input_shape": [None, 3, TINY, TINY], "precision": "fp32"}


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def client(tiny_dir: Path, redis_url: str, store: Path) -> Iterator[AppClient]:
    settings = deploy_settings(tiny_dir, redis_url, store_dir=store, max_model_bytes=100_000)
    client = start_client(settings)
    yield client
    client.close()


def upload(
    client: AppClient, name: str, version: str, data: bytes, meta: dict[str, Any] | None = None
) -> Any:
    files = {"model": ("model.onnx", data, "application/octet-stream")}
    form = {"metadata": json.dumps(META if meta is None else meta)}
    return client.put(f"/v1/models/{name}/versions/{version}", files=files, data=form)


def state_of(client: AppClient, store: Path) -> tuple[Any, ...]:
    files = sorted(str(p.relative_to(store)) for p in store.rglob("*")) if store.exists() else []
    return client.get("/v1/models").json(), files, client.get("/v1/deployment").json()["generation"]


def test_an_upload_is_validated_stored_by_sha256_and_served(client: AppClient, store: Path) -> None:
    data = tiny_model(TINY, (0.0, 5.0, 0.0))  # always dog
    created = upload(client, "tiny-up", "2", data)
    assert created.status_code == 201, created.text
    version = created.json()["version"]
    assert (version["status"], version["source"], version["roles"]) == ("ready", "upload", [])
    sha = hashlib.sha256(data).hexdigest()
    assert version["sha256"] == sha
    assert (store / "blobs" / "sha256" / f"{sha}.onnx").read_bytes() == data
    listed = client.get("/v1/models/tiny-up/versions").json()
    assert [v["version"] for v in listed] == ["2"]
    answer = client.post("/v1/predict?model=tiny-up", content=tiny_jpeg(), headers=JPEG).json()
    assert (answer["label"], answer["version"], answer["role"]) == ("dog", "2", "explicit")
    again = upload(client, "tiny-up", "2", data)
    assert (again.status_code, again.json()["created"]) == (200, False)
    other = upload(client, "tiny-up", "2", tiny_model(TINY, (5.0, 0.0, 0.0)))
    assert other.status_code == 409
    assert other.json()["type"].endswith("/version-exists")
    assert upload(client, "tiny-a", "1", data).status_code == 409  # built into the image
    spec = {"strategy": "canary", "primary": "tiny-a/1", "candidate": "tiny-up/2"}
    assert client.put("/v1/deployment", json=spec).status_code == 200


def unknown_size(**_: object) -> bytes:
    return tiny_model("S")  # type: ignore[arg-type]  # a symbolic H and W


BROKEN: dict[str, tuple[Callable[[], bytes], dict[str, Any], str]] = {
    "not an onnx file": (lambda: b"this is not a model", META, "does not load in onnxruntime"),
    "truncated": (lambda: tiny_model(TINY)[:200], META, "does not load"),
    "int64 input": (lambda: tiny_model(TINY, input_type=TensorProto.INT64), META, "tensor(int64)"),
    "fixed batch": (lambda: tiny_model(TINY, batch=1), META, "fixed batch"),
    "one channel": (lambda: tiny_model(TINY, channels=1), {}, "expected 3"),
    "no probabilities": (lambda: tiny_model(TINY, output="answers"), META, "no 'probabilities'"),
    "rows not summing to 1": (lambda: tiny_model(TINY, last_op="Sigmoid"), META, "sum to"),
    "size unknown": (unknown_size, {}, "not known"),
    "size disagrees": (lambda: tiny_model(TINY), {"input_shape": [None, 3, 32, 32]}, "graph 16"),
    "wrong labels": (lambda: tiny_model(TINY), {"labels": ["dog", "cat", "other"]}, "labels"),
    "wrong sha256": (lambda: tiny_model(TINY), {"sha256": "0" * 64}, "sha256"),
    "other normalisation": (
        lambda: tiny_model(TINY),
        {"preprocessing": {"normalize": "x / 255"}},
        "not served",
    ),
    "unknown metadata field": (lambda: tiny_model(TINY), {"colour": "red"}, "metadata"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_upload_is_422_and_changes_nothing(
    client: AppClient, store: Path, case: str
) -> None:
    make, meta, words = BROKEN[case]
    before = state_of(client, store)
    response = upload(client, "tiny-new", "1", make(), meta)
    assert response.status_code == 422, response.text
    assert words in response.text
    assert state_of(client, store) == before
    assert client.get("/v1/models/tiny-new").status_code == 404


def test_an_unknown_size_given_in_the_metadata_is_accepted(client: AppClient) -> None:
    response = upload(client, "tiny-sized", "1", unknown_size(), META)
    assert response.status_code == 201, response.text
    assert response.json()["version"]["input_shape"] == [None, 3, TINY, TINY]


@pytest.mark.parametrize(
    ("name", "version", "status"),
    [
        ("..", "1", 404),  # the client resolves the dots: no route
        ("%2E%2E", "1", 422),  # the server sees ".."
        (".hidden", "1", 422),
        ("Upper", "1", 422),
        ("tiny-x", "%2E%2E", 422),
        ("tiny-x", "-1", 422),
        ("tiny-x", "a%2F..%2F..%2Fescape", 404),
        ("a%2Fb", "1", 404),
    ],
)
def test_names_and_versions_are_checked(
    client: AppClient, store: Path, name: str, version: str, status: int
) -> None:
    before = state_of(client, store)
    response = upload(client, name, version, tiny_model(TINY))
    assert response.status_code == status, response.text
    assert state_of(client, store) == before
    assert not (store.parent / "escape").exists()


def test_too_large_is_413(client: AppClient, store: Path) -> None:
    before = state_of(client, store)
    response = upload(client, "tiny-big", "1", b"\x00" * 150_000)
    assert response.status_code == 413
    assert state_of(client, store) == before


def test_delete(client: AppClient, store: Path) -> None:
    data = tiny_model(TINY, (0.0, 0.0, 3.0))
    assert upload(client, "tiny-del", "1", data).status_code == 201
    assert upload(client, "tiny-del", "2", data).status_code == 201  # the same bytes twice
    spec = {"strategy": "shadow", "primary": "tiny-a/1", "candidate": "tiny-del/1"}
    assert client.put("/v1/deployment", json=spec).status_code == 200
    in_use = client.delete("/v1/models/tiny-del/versions/1")
    assert in_use.status_code == 409
    assert "candidate" in in_use.json()["detail"]
    assert client.delete("/v1/models/tiny-a/versions/1").status_code == 409  # built in
    assert client.delete("/v1/models/tiny-del/versions/9").status_code == 404
    assert client.delete("/v1/models/tiny-del/versions/2").status_code == 204
    blob = store / "blobs" / "sha256" / f"{hashlib.sha256(data).hexdigest()}.onnx"
    assert blob.is_file()  # version 1 still has these bytes
    assert [v["version"] for v in client.get("/v1/models/tiny-del/versions").json()] == ["1"]
    assert client.post("/v1/deployment/rollback").status_code == 200
    assert client.delete("/v1/models/tiny-del/versions/1").status_code == 204
    assert not blob.exists()
    assert client.get("/v1/models/tiny-del").status_code == 404


def test_another_replica_sees_an_upload(
    client: AppClient, tiny_dir: Path, redis_url: str, store: Path
) -> None:
    other = start_client(deploy_settings(tiny_dir, redis_url, store_dir=store))
    try:
        assert upload(client, "tiny-shared", "1", tiny_model(TINY)).status_code == 201

        def seen() -> bool:
            found = other.get("/v1/models/tiny-shared/versions")
            return found.status_code == 200 and found.json()[0]["status"] == "ready"

        eventually(seen, timeout=10, what="the upload on the other replica")
        assert client.delete("/v1/models/tiny-shared/versions/1").status_code == 204
        eventually(lambda: other.get("/v1/models/tiny-shared").status_code == 404, timeout=10)
    finally:
        other.close()


def test_without_a_store_dir_uploads_are_503(tiny_dir: Path) -> None:
    client = start_client(deploy_settings(tiny_dir, None))
    try:
        response = upload(client, "tiny-x", "1", tiny_model(TINY))
        assert response.status_code == 503
        assert "CLASSIFIER_STORE_DIR" in response.json()["detail"]
    finally:
        client.close()


def test_a_real_model_uploads_and_answers_as_built(
    tiny_dir: Path, model_dir: Path, redis_url: str, store: Path, sample_dir: Path
) -> None:
    built = model_dir / "efficientnet-lite0-pets-int8" / "1"
    meta = json.loads((built / "metadata.json").read_text())
    fields = {k: meta[k] for k in ("input_shape", "preprocessing", "other_threshold", "precision")}
    client = start_client(deploy_settings(tiny_dir, redis_url, store_dir=store))
    try:
        response = upload(
            client, "lite0-int8-upload", "1", (built / "model.onnx").read_bytes(), fields
        )
        assert response.status_code == 201, response.text
        assert response.json()["version"]["sha256"] == meta["sha256"]
        photo = (sample_dir / "cat" / "oxpet-041.jpg").read_bytes()
        url = "/v1/predict?model=lite0-int8-upload"
        answer = client.post(url, content=photo, headers=JPEG).json()
        assert answer["label"] == "cat"
    finally:
        client.close()
