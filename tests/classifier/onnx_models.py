"""Models built in the tests with `onnx.helper` (a build requirement in the dev venv; never
imported by the service): tiny graphs that run in microseconds, broken ones for the upload
checks, and the shipped Lite0 with a head that always says dog (a deliberately bad version).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

LABELS = ["cat", "dog", "other"]


def tiny_model(
    size: int = 16,
    bias: tuple[float, float, float] = (0.0, 0.0, 0.0),
    *,
    input_type: int = TensorProto.FLOAT,
    channels: int = 3,
    batch: int | str = "N",
    output: str = "probabilities",
    last_op: str = "Softmax",
) -> bytes:
    """images [N, channels, size, size] -> channel means -> Gemm(I, bias) -> Softmax: the label
    follows `bias` (a large bias on one class makes a model that always says it)."""
    x = helper.make_tensor_value_info("images", input_type, [batch, channels, size, size])
    y = helper.make_tensor_value_info(output, TensorProto.FLOAT, [batch, 3])
    weight = np.eye(channels, 3, dtype=np.float32)
    inits = [
        numpy_helper.from_array(weight, "w"),
        numpy_helper.from_array(np.array(bias, dtype=np.float32), "b"),
    ]
    start = "images"
    axis: dict[str, Any] = {"axis": 1} if last_op == "Softmax" else {}
    nodes = []
    if input_type != TensorProto.FLOAT:
        nodes.append(helper.make_node("Cast", ["images"], ["xf"], to=TensorProto.FLOAT))
        start = "xf"
    nodes += [
        helper.make_node("GlobalAveragePool", [start], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"]),
        helper.make_node("Gemm", ["flat", "w", "b"], ["scores"]),
        helper.make_node(last_op, ["scores"], [output], **axis),
    ]
    graph = helper.make_graph(nodes, "tiny", [x], [y], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


def always_dog(lite0: Path) -> bytes:
    """The shipped Lite0 with its cat/dog head zeroed and biased to dog: every animal is a dog."""
    model = onnx.load(str(lite0))
    for init in model.graph.initializer:
        if init.name == "head.weight":
            zeros = np.zeros(tuple(init.dims), np.float32)
            init.CopyFrom(numpy_helper.from_array(zeros, init.name))
        elif init.name == "head.bias":
            init.CopyFrom(numpy_helper.from_array(np.array([20.0], np.float32), init.name))
    return bytes(model.SerializeToString())


def metadata(name: str, version: str, data: bytes, size: int) -> dict[str, object]:
    return {
        "name": name,
        "version": version,
        "sha256": hashlib.sha256(data).hexdigest(),
        "file": "model.onnx",
        "input_name": "images",
        "input_shape": [None, 3, size, size],
        "outputs": ["probabilities"],
        "labels": LABELS,
        "preprocessing": {"crop": f"center {size}x{size}"},
        "other_threshold": 0.2,
        "precision": "fp32",
    }


def write_version(root: Path, name: str, version: str, data: bytes, size: int) -> Path:
    """A model directory entry `root/name/version/{model.onnx,metadata.json}`."""
    folder = root / name / version
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.onnx").write_bytes(data)
    (folder / "metadata.json").write_text(json.dumps(metadata(name, version, data, size)))
    return folder


def copy_version(src: Path, root: Path, name: str, data: bytes) -> Path:
    """A built version's metadata under another name, with other bytes (`src`: its folder)."""
    meta = json.loads((src / "metadata.json").read_text())
    meta.update(name=name, version="1", sha256=hashlib.sha256(data).hexdigest())
    meta.pop("accuracy", None)
    folder = root / name / "1"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.onnx").write_bytes(data)
    (folder / "metadata.json").write_text(json.dumps(meta))
    return folder
