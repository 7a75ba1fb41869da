"""The static int8 copy that `make model` builds: it loads, and decides like fp32 on the samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from classifier.model import LABELS, ModelInfo, ModelRuntime, discover
from classifier.preprocess import preprocess


def by_precision(model_dir: Path, precision: str) -> ModelInfo:
    found = [i for i in discover(model_dir) if i.precision == precision]
    assert found, f"no {precision} model under {model_dir}: run `make model`"
    return found[0]


@pytest.fixture(scope="module")
def runtimes(model_dir: Path) -> dict[str, ModelRuntime]:
    out = {}
    for precision in ("fp32", "int8"):
        rt = ModelRuntime(by_precision(model_dir, precision))
        rt.load()
        out[precision] = rt
    return out


@pytest.fixture(scope="module")
def samples(sample_dir: Path) -> tuple[list[str], np.ndarray]:
    files = sorted(sample_dir.glob("*/*.jpg"))
    truth = [{"none": "other"}.get(f.parent.name, f.parent.name) for f in files]
    return truth, np.stack([preprocess(f.read_bytes(), max_pixels=10**8) for f in files])


def test_int8_is_its_own_model_beside_fp32(model_dir: Path) -> None:
    fp32, int8 = by_precision(model_dir, "fp32"), by_precision(model_dir, "int8")
    assert int8.name == f"{fp32.name}-int8"
    assert discover(model_dir)[0] == fp32  # sorted first: what the service serves by default
    assert int8.labels == fp32.labels == LABELS
    assert int8.sha256 != fp32.sha256
    assert int8.path.stat().st_size < fp32.path.stat().st_size * 0.6  # int8 weights


def test_int8_gets_every_sample_photo_right(
    runtimes: dict[str, ModelRuntime], samples: tuple[list[str], np.ndarray]
) -> None:
    truth, batch = samples
    predictions = runtimes["int8"].predict(batch)
    assert [p.label for p in predictions] == truth
    for p in predictions:
        assert sum(p.probabilities.values()) == pytest.approx(1.0, abs=1e-5)


def test_int8_agrees_with_fp32_on_the_samples(
    runtimes: dict[str, ModelRuntime], samples: tuple[list[str], np.ndarray]
) -> None:
    _, batch = samples
    fp32 = runtimes["fp32"].infer({"images": batch})
    int8 = runtimes["int8"].infer({"images": batch})
    same_top1 = int8["logits"].argmax(axis=1) == fp32["logits"].argmax(axis=1)
    assert same_top1.mean() >= 0.8  # ImageNet top-1 may swap close breeds (Persian vs lynx)
    assert [p.label for p in runtimes["int8"].predict(batch)] == [
        p.label for p in runtimes["fp32"].predict(batch)
    ]
    np.testing.assert_allclose(int8["probabilities"], fp32["probabilities"], atol=0.15)
    # quantized, so not bit-equal: this would pass for a copy of fp32 if it were not
    assert np.abs(int8["features"] - fp32["features"]).max() > 1e-3
