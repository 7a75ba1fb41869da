"""Open Inference Protocol v2: Triton's own HTTP client against a real uvicorn process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from classifier.model import discover
from classifier.preprocess import preprocess
from tests.classifier.conftest import AppClient
from tests.servers import ServiceProcess


@pytest.fixture(scope="module")
def server(model_dir: Path) -> Iterator[ServiceProcess]:
    env = {"CLASSIFIER_MODEL_DIR": str(model_dir), "CLASSIFIER_MAX_WAIT_MS": "1"}
    process = ServiceProcess("classifier", env).start(timeout=90)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def triton_client(server: ServiceProcess) -> Iterator[triton.InferenceServerClient]:
    client = triton.InferenceServerClient(url=server.url.removeprefix("http://"))
    yield client
    client.close()


@pytest.fixture(scope="module")
def model_name(model_dir: Path) -> str:
    return discover(model_dir)[0].name


@pytest.fixture(scope="module")
def batch(sample_dir: Path) -> np.ndarray:
    paths = [sample_dir / "cat" / "oxpet-101.jpg", sample_dir / "dog" / "oxpet-021.jpg"]
    return np.stack([preprocess(p.read_bytes(), max_pixels=10**8) for p in paths])


def image_input(batch: np.ndarray, *, binary: bool, name: str = "images") -> triton.InferInput:
    tensor = triton.InferInput(name, list(batch.shape), "FP32")
    tensor.set_data_from_numpy(batch, binary_data=binary)
    return tensor


@pytest.mark.slow
def test_health_and_metadata(triton_client: triton.InferenceServerClient, model_name: str) -> None:
    assert triton_client.is_server_live()
    assert triton_client.is_server_ready()
    assert triton_client.is_model_ready(model_name)
    assert triton_client.is_model_ready(model_name, "1")
    assert not triton_client.is_model_ready("no-such-model")
    assert "binary_tensor_data" in triton_client.get_server_metadata()["extensions"]
    meta = triton_client.get_model_metadata(model_name)
    assert meta["inputs"] == [{"name": "images", "datatype": "FP32", "shape": [-1, 3, 224, 224]}]
    outputs = {o["name"]: o["shape"] for o in meta["outputs"]}
    assert outputs["probabilities"] == [-1, 3]
    assert triton_client.get_model_metadata(model_name, "1") == meta


@pytest.mark.slow
@pytest.mark.parametrize("binary", [True, False])
def test_infer_matches_v1_predict(
    triton_client: triton.InferenceServerClient,
    server: ServiceProcess,
    model_name: str,
    batch: np.ndarray,
    sample_dir: Path,
    binary: bool,
) -> None:
    result = triton_client.infer(
        model_name,
        [image_input(batch, binary=binary)],
        outputs=[triton.InferRequestedOutput("probabilities", binary_data=binary)],
        request_id="req-7",
    )
    probabilities = result.as_numpy("probabilities")
    assert probabilities.shape == (2, 3)
    assert result.get_response()["id"] == "req-7"
    assert result.as_numpy("features") is None  # only what was asked for
    photo = (sample_dir / "cat" / "oxpet-101.jpg").read_bytes()
    v1 = httpx.post(
        server.url + "/v1/predict",
        content=photo,
        headers={"Content-Type": "image/jpeg"},
        timeout=30,
    ).json()
    assert probabilities[0] == pytest.approx(
        [v1["probabilities"][k] for k in ("cat", "dog", "other")], abs=1e-5
    )
    assert probabilities[1].argmax() == 1  # the dog


@pytest.mark.slow
def test_infer_all_outputs_by_version(
    triton_client: triton.InferenceServerClient, model_name: str, batch: np.ndarray
) -> None:
    result = triton_client.infer(
        model_name, [image_input(batch[:1], binary=True)], model_version="1"
    )
    assert result.get_response()["model_version"] == "1"
    assert result.as_numpy("features").shape == (1, 1280)
    assert result.as_numpy("probabilities").sum() == pytest.approx(1.0, abs=1e-4)


@pytest.mark.slow
def test_infer_errors_come_back_as_triton_errors(
    triton_client: triton.InferenceServerClient, model_name: str, batch: np.ndarray
) -> None:
    with pytest.raises(InferenceServerException) as unknown:
        triton_client.infer("no-such-model", [image_input(batch, binary=True)])
    assert unknown.value.status() == "404"
    with pytest.raises(InferenceServerException) as wrong_name:
        triton_client.infer(model_name, [image_input(batch, binary=False, name="pixels")])
    assert wrong_name.value.status() == "422"
    assert "images" in wrong_name.value.message()
    with pytest.raises(InferenceServerException) as wrong_shape:
        triton_client.infer(model_name, [image_input(batch[:, :, :100, :100].copy(), binary=True)])
    assert wrong_shape.value.status() == "422"
    doubles = triton.InferInput("images", list(batch.shape), "FP64")
    doubles.set_data_from_numpy(batch.astype(np.float64))
    with pytest.raises(InferenceServerException) as wrong_type:
        triton_client.infer(model_name, [doubles])
    assert wrong_type.value.status() == "422"
    assert "FP32" in wrong_type.value.message()


def test_infer_json_validation_is_a_problem(client: AppClient, model_name: str) -> None:
    url = f"/v2/models/{model_name}/infer"
    not_json = client.post(url, content=b"{nope")
    assert not_json.status_code == 422
    assert not_json.json()["errors"]
    short = client.post(
        url,
        json={
            "inputs": [
                {"name": "images", "shape": [1, 3, 224, 224], "datatype": "FP32", "data": [0.0] * 5}
            ]
        },
    )
    assert short.status_code == 422
    assert "do not fill" in short.json()["error"]
    bad_output = client.post(
        url,
        json={
            "inputs": [
                {
                    "name": "images",
                    "shape": [1, 3, 224, 224],
                    "datatype": "FP32",
                    "data": [0.0] * (3 * 224 * 224),
                }
            ],
            "outputs": [{"name": "nope"}],
        },
    )
    assert bad_output.status_code == 422
    assert "probabilities" in bad_output.json()["detail"]
    lying = client.post(
        url, content=b'{"inputs": []}', headers={"Inference-Header-Content-Length": "999"}
    )
    assert lying.status_code == 422


@pytest.mark.parametrize("size", [4.0 * 3 * 224 * 224, "602112", True, -4, None])
def test_infer_binary_data_size_must_be_a_non_negative_int(
    client: AppClient, model_name: str, size: object
) -> None:
    shape = [1, 3, 224, 224]
    tail = np.zeros(shape, dtype="<f4").tobytes()
    params = {"binary_data_size": size} if size is not None else {"binary_data_size": len(tail)}
    head = json.dumps(
        {"inputs": [{"name": "images", "shape": shape, "datatype": "FP32", "parameters": params}]}
    ).encode()
    response = client.post(
        f"/v2/models/{model_name}/infer",
        content=head + tail,
        headers={"Inference-Header-Content-Length": str(len(head))},
    )
    if size is None:  # the same request with a proper int size: the control case
        assert response.status_code == 200, response.text
        return
    assert response.status_code == 422, response.text
    assert "binary_data_size" in response.text
