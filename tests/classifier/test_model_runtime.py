"""ModelRuntime against the built model: loading, readiness, decisions, raw inference, errors."""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from tools.model_input import tensor_for

from classifier.errors import InvalidInput, ModelError, ModelNotFound
from classifier.model import LABELS, ModelInfo, ModelRuntime, decide, discover
from classifier.preprocess import preprocess


@pytest.fixture(scope="module")
def info(model_dir: Path) -> ModelInfo:
    return next(i for i in discover(model_dir) if i.precision == "fp32")


@pytest.fixture(scope="module")
def runtime(info: ModelInfo) -> ModelRuntime:
    rt = ModelRuntime(info)
    rt.load()
    return rt


@pytest.fixture(scope="module")
def sample_batch(sample_dir: Path) -> tuple[list[str], np.ndarray]:
    files = sorted(sample_dir.glob("*/*.jpg"))
    truth = [{"none": "other"}.get(f.parent.name, f.parent.name) for f in files]
    return truth, np.stack([preprocess(f.read_bytes(), max_pixels=10**8) for f in files])


def test_discover_finds_every_version_sorted(model_dir: Path, info: ModelInfo) -> None:
    infos = discover(model_dir)
    assert infos == sorted(infos, key=lambda i: (i.name, i.version))
    assert info.labels == LABELS
    assert info.path.name == "model.onnx"
    assert discover(model_dir / "absent") == []


def test_from_dir_without_model_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound):
        ModelInfo.from_dir(tmp_path)


def test_load_warms_up_once_and_only_then_is_ready(
    info: ModelInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    import onnxruntime as ort

    runs: list[tuple[int, ...]] = []

    class CountingSession(ort.InferenceSession):  # type: ignore[misc]
        def run(self, output_names, input_feed, run_options=None):
            runs.append(next(iter(input_feed.values())).shape)
            return super().run(output_names, input_feed, run_options)

    monkeypatch.setattr(ort, "InferenceSession", CountingSession)
    rt = ModelRuntime(info)
    assert (rt.ready, rt.outputs) == (False, {})
    rt.load(warm_batch=4)
    assert runs == [(4, 3, 224, 224)]  # one warm-up run, full size, every output at once
    assert rt.ready
    assert rt.outputs == {"probabilities": (3,), "logits": (1000,), "features": (1280,)}
    rt.load()
    assert len(runs) == 1  # loading again is a no-op


def test_tampered_model_is_refused(info: ModelInfo, tmp_path: Path) -> None:
    target = tmp_path / info.name / info.version
    shutil.copytree(info.path.parent, target)
    meta = json.loads((target / "metadata.json").read_text())
    meta["sha256"] = "0" * 64
    (target / "metadata.json").write_text(json.dumps(meta))
    rt = ModelRuntime(ModelInfo.from_dir(target))
    with pytest.raises(ModelError, match="sha256"):
        rt.load()
    assert not rt.ready


def test_batch_predictions_are_right_and_sum_to_one(runtime: ModelRuntime, sample_batch) -> None:
    truth, batch = sample_batch
    predictions = runtime.predict(batch)
    assert runtime.ready
    assert [p.label for p in predictions] == truth
    for p in predictions:
        assert set(p.probabilities) == set(LABELS)
        assert sum(p.probabilities.values()) == pytest.approx(1.0, abs=1e-5)


def test_concurrent_predictions_match_sequential(runtime: ModelRuntime, sample_batch) -> None:
    _, batch = sample_batch
    expected = [p.label for p in runtime.predict(batch)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        labels = list(pool.map(lambda x: runtime.predict(x[None])[0].label, batch))
    assert labels == expected


def test_other_threshold_setting_overrides_metadata(info: ModelInfo, sample_batch) -> None:
    _, batch = sample_batch
    always_other = ModelRuntime(info, other_threshold=1.01)
    always_other.load()
    assert {p.label for p in always_other.predict(batch)} == {"other"}


def test_decide_rule() -> None:
    rows = np.array([[0.6, 0.3, 0.1], [0.05, 0.1, 0.85], [0.2, 0.7, 0.1]], dtype=np.float32)
    assert [p.label for p in decide(rows, 0.2)] == ["cat", "other", "dog"]
    assert [p.label for p in decide(rows, 0.1)] == ["cat", "dog", "dog"]


def test_infer_returns_every_output(runtime: ModelRuntime, sample_batch) -> None:
    _, batch = sample_batch
    out = runtime.infer({"images": batch[:2]})
    assert out["probabilities"].shape == (2, 3)
    assert out["logits"].shape == (2, 1000)
    assert out["features"].shape == (2, 1280)


@pytest.mark.parametrize(
    "inputs",
    [
        {"pixels": np.zeros((1, 3, 224, 224), dtype=np.float32)},
        {"images": np.zeros((1, 3, 100, 100), dtype=np.float32)},
        {"images": np.zeros((3, 224, 224), dtype=np.float32)},
    ],
    ids=["wrong-name", "wrong-size", "no-batch-axis"],
)
def test_infer_rejects_bad_inputs(runtime: ModelRuntime, inputs) -> None:
    with pytest.raises(InvalidInput):
        runtime.infer(inputs)


def test_predict_rejects_bad_shape(runtime: ModelRuntime) -> None:
    with pytest.raises(InvalidInput):
        runtime.predict(np.zeros((3, 224, 224), dtype=np.float32))


@pytest.fixture(scope="module")
def candidate(model_dir: Path) -> ModelRuntime:
    """The Lite2 candidate that `make model` builds beside Lite0 (260x260 input)."""
    found = [i for i in discover(model_dir) if i.name == "efficientnet-lite2-pets"]
    assert found, f"no efficientnet-lite2-pets under {model_dir}: run `make model`"
    rt = ModelRuntime(found[0])
    rt.load(warm_batch=2)
    return rt


def test_candidate_takes_its_own_input_size(
    candidate: ModelRuntime, info: ModelInfo, model_dir: Path
) -> None:
    assert candidate.image_shape == (3, 260, 260)
    assert candidate.outputs == {"probabilities": (3,), "logits": (1000,), "features": (1280,)}
    assert candidate.info.labels == info.labels
    assert discover(model_dir)[0] == info  # Lite0 stays first: the default model
    with pytest.raises(InvalidInput, match="260"):
        candidate.predict(np.zeros((1, 3, 224, 224), dtype=np.float32))


def test_candidate_gets_every_sample_photo_right(candidate: ModelRuntime, sample_dir: Path) -> None:
    files = sorted(sample_dir.glob("*/*.jpg"))
    truth = [{"none": "other"}.get(f.parent.name, f.parent.name) for f in files]
    batch = np.stack([tensor_for(candidate.info, f.read_bytes()) for f in files])
    predictions = candidate.predict(batch)
    assert [p.label for p in predictions] == truth
    for p in predictions:
        assert sum(p.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
