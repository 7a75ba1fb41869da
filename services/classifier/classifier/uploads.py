"""What an uploaded model must be before the registry accepts it, checked with onnxruntime only
(through `model.open_session`; no `onnx` package at run time).

In order, each failure an `InvalidModel` (422) whose detail says what is wrong:
the sha256 matches the one given (if given); the labels are cat, dog, other (the order of the
`probabilities` output the service reads); the bytes load in onnxruntime; there is one input,
float, N x 3 x H x W with a dynamic batch axis and H, W known (from the graph or the metadata);
the `probabilities` output exists; a smoke inference on a batch of 2 runs and gives two rows of
3 finite probabilities that sum to 1. Nothing is written before all of that passed.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from classifier.errors import InvalidModel
from classifier.model import LABELS, PROBABILITIES, open_session
from classifier.preprocess import MEAN, SCALE, resize_for

NORMALIZE = f"(x - {MEAN:g}) / {SCALE:g}"
LAYOUT = "NCHW float32"


class UploadMetadata(BaseModel):
    """The metadata part of an upload (name and version come from the URL)."""

    model_config = ConfigDict(extra="forbid")

    labels: list[str] = Field(default_factory=lambda: list(LABELS))
    input_name: str | None = Field(None, description="Checked against the graph's one input.")
    input_shape: list[int | None] | None = Field(None, examples=[[None, 3, 224, 224]])
    preprocessing: dict[str, Any] = Field(
        default_factory=dict,
        description=f"Free text per step; `resize_to` (int) is read; `normalize` must be "
        f"{NORMALIZE!r} and `layout` {LAYOUT!r} if given (the only ones served).",
    )
    other_threshold: float = Field(0.2, ge=0, le=1)
    precision: str = Field("fp32", pattern=r"^[a-z0-9]{1,16}$")
    accuracy: dict[str, Any] | None = None
    sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    description: str | None = Field(None, max_length=500)


def validate_upload(
    name: str, version: str, data: bytes, meta: UploadMetadata, *, by: str | None
) -> dict[str, Any]:
    """The version's metadata.json fields, once the bytes passed every check (else InvalidModel)."""
    sha256 = hashlib.sha256(data).hexdigest()
    if meta.sha256 is not None and meta.sha256 != sha256:
        raise InvalidModel(f"the bytes have sha256 {sha256}, not {meta.sha256}")
    if meta.labels != list(LABELS):
        raise InvalidModel(f"labels must be {list(LABELS)}, the order of the probabilities output")
    for key, wanted in (("normalize", NORMALIZE), ("layout", LAYOUT)):
        given = meta.preprocessing.get(key)
        if given is not None and given != wanted:
            raise InvalidModel(f"preprocessing {key} {given!r} is not served (only {wanted!r})")
    try:
        session = open_session(data)
    except Exception as exc:  # ORT raises its own types for bytes that are not a model
        raise InvalidModel(f"the file does not load in onnxruntime: {_first_line(exc)}") from exc
    input_name, height, width = _check_input(session, meta)
    outputs = [o.name for o in session.get_outputs()]
    if PROBABILITIES not in outputs:
        raise InvalidModel(f"no {PROBABILITIES!r} output (outputs: {outputs})")
    _smoke(session, input_name, height, width)
    crop = (height, width)
    return {
        "name": name,
        "version": version,
        "sha256": sha256,
        "file": f"sha256/{sha256}.onnx",
        "input_name": input_name,
        "input_shape": [None, 3, height, width],
        "outputs": outputs,
        "labels": list(LABELS),
        "preprocessing": _preprocessing(meta.preprocessing, crop),
        "other_threshold": meta.other_threshold,
        "other_rule": "other when P(cat) + P(dog) < other_threshold, else the larger of the two",
        "precision": meta.precision,
        "accuracy": meta.accuracy,
        "description": meta.description,
        "source": "upload",
        "size_bytes": len(data),
        "uploaded_at": time.time(),
        "uploaded_by": by,
    }


def _check_input(session: Any, meta: UploadMetadata) -> tuple[str, int, int]:
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise InvalidModel(f"the graph must have one input, it has {len(inputs)}")
    tensor = inputs[0]
    if meta.input_name is not None and tensor.name != meta.input_name:
        raise InvalidModel(f"the graph's input is {tensor.name!r}, not {meta.input_name!r}")
    if tensor.type != "tensor(float)":
        raise InvalidModel(f"input {tensor.name!r} is {tensor.type}; expected tensor(float)")
    shape = list(tensor.shape)
    if len(shape) != 4:
        raise InvalidModel(f"input {tensor.name!r} has shape {shape}; expected N x 3 x H x W")
    if isinstance(shape[0], int):
        raise InvalidModel(f"input {tensor.name!r} has a fixed batch of {shape[0]}; make N dynamic")
    given = meta.input_shape or [None, None, None, None]
    if len(given) != 4:
        raise InvalidModel(f"input_shape {given} is not N x 3 x H x W")
    dims = []
    for axis, graph_dim, meta_dim in zip(("C", "H", "W"), shape[1:], given[1:], strict=True):
        dim = graph_dim if isinstance(graph_dim, int) else meta_dim
        if isinstance(graph_dim, int) and meta_dim is not None and meta_dim != graph_dim:
            raise InvalidModel(f"input_shape says {axis}={meta_dim}, the graph {graph_dim}")
        if not isinstance(dim, int) or dim < 1:
            raise InvalidModel(f"input {axis} is not known: give it in input_shape")
        dims.append(dim)
    if dims[0] != 3:
        raise InvalidModel(f"input {tensor.name!r} has {dims[0]} channels; expected 3 (RGB)")
    return str(tensor.name), dims[1], dims[2]


def _smoke(session: Any, input_name: str, height: int, width: int) -> None:
    batch = np.random.default_rng(0).normal(0, 0.5, (2, 3, height, width)).astype(np.float32)
    try:
        (probabilities,) = session.run([PROBABILITIES], {input_name: batch})
    except Exception as exc:
        raise InvalidModel(f"a smoke inference failed: {_first_line(exc)}") from exc
    array = np.asarray(probabilities, dtype=np.float64)
    if array.shape != (2, len(LABELS)):
        raise InvalidModel(
            f"probabilities of a batch of 2 have shape {list(array.shape)}; not [2, 3]"
        )
    if not np.isfinite(array).all() or (array < -1e-6).any():
        raise InvalidModel("probabilities are not finite and non-negative")
    if not np.allclose(array.sum(axis=1), 1.0, atol=1e-3):
        raise InvalidModel(f"probability rows sum to {array.sum(axis=1).round(4).tolist()}, not 1")


def _preprocessing(given: dict[str, Any], crop: tuple[int, int]) -> dict[str, Any]:
    resize = resize_for(crop, given.get("resize_to"))
    return {
        "decode": "Pillow, JPEG draft, EXIF orientation applied, converted to RGB",
        "resize": f"short side to {resize}, bilinear",
        "crop": f"center {crop[0]}x{crop[1]}",
        "normalize": NORMALIZE,
        "layout": LAYOUT,
        **given,
    }


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]
