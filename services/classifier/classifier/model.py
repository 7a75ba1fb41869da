"""The model runtime: the only module that imports onnxruntime (lazily, in ``load``).

A model lives in ``<model_dir>/<name>/<version>/`` as ``model.onnx`` + ``metadata.json`` (written
by ``services/classifier/tools/build_model.py``). The graph's ``probabilities`` output is
``[N, 3]`` = P(cat), P(dog), P(other); the label is ``other`` when P(cat) + P(dog) is below the
other-threshold (a setting whose default is in the metadata), else the larger of cat and dog.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from classifier.errors import InvalidInput, ModelError, ModelNotFound

log = logging.getLogger(__name__)
LABELS = ("cat", "dog", "other")
PROBABILITIES = "probabilities"


@dataclass(frozen=True)
class ModelInfo:
    """What metadata.json says about one model version; ``path`` is its model.onnx."""

    name: str
    version: str
    sha256: str
    path: Path
    input_name: str
    input_shape: tuple[int | None, ...]
    labels: tuple[str, ...]
    preprocessing: dict[str, Any]
    other_threshold: float
    precision: str
    accuracy: dict[str, Any] | None

    @classmethod
    def from_dir(cls, path: Path) -> ModelInfo:
        """Reads ``path/metadata.json``; raises ModelNotFound when the folder holds no model."""
        model_file, meta_file = path / "model.onnx", path / "metadata.json"
        if not model_file.is_file() or not meta_file.is_file():
            raise ModelNotFound(f"no model.onnx + metadata.json in {path}")
        try:
            meta = json.loads(meta_file.read_text())
        except ValueError as exc:
            raise ModelError(f"{meta_file} is not valid model metadata: {exc!r}") from exc
        return cls.from_metadata(meta, model_file, where=str(meta_file))

    @classmethod
    def from_metadata(cls, meta: Any, model_file: Path, *, where: str) -> ModelInfo:
        """From metadata.json's fields (an upload's record holds the same ones)."""
        try:
            return cls(
                name=str(meta["name"]),
                version=str(meta["version"]),
                sha256=str(meta["sha256"]),
                path=model_file,
                input_name=str(meta["input_name"]),
                input_shape=tuple(meta["input_shape"]),
                labels=tuple(meta["labels"]),
                preprocessing=dict(meta["preprocessing"]),
                other_threshold=float(meta["other_threshold"]),
                precision=str(meta["precision"]),
                accuracy=meta.get("accuracy"),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"{where} is not valid model metadata: {exc!r}") from exc


@dataclass(frozen=True)
class Prediction:
    label: str
    probabilities: dict[str, float]


def decide(probabilities: np.ndarray, other_threshold: float) -> list[Prediction]:
    """Labels for rows of (P(cat), P(dog), P(other)): ``other`` when cat + dog < threshold."""
    predictions = []
    for cat, dog, other in probabilities.astype(float).tolist():
        label = "other" if cat + dog < other_threshold else ("cat" if cat >= dog else "dog")
        predictions.append(Prediction(label, {"cat": cat, "dog": dog, "other": other}))
    return predictions


class ModelRuntime:
    """The ONNX Runtime session of one model version. ``predict`` and ``infer`` are thread-safe.

    One session of ``intra_op_threads`` (the service: one per core, no spinning), which the
    micro-batcher's threads share: a batch that runs alone gets every thread, two batches at
    once share them. One session per model instead of a one-thread session plus a wide one for
    lone batches: the same images/s at c=1, 8 and 32 and 100-130 MB less RSS with three models
    (docs/benchmarks.md).

    ``ready`` is the one readiness flag: the session is published only once its warm-up has run.
    ``predict`` and ``infer`` are for a ready runtime (the registry serves no other), so they do
    not check again.
    """

    def __init__(
        self,
        info: ModelInfo,
        *,
        intra_op_threads: int = 1,
        inter_op_threads: int = 1,
        other_threshold: float | None = None,
    ) -> None:
        self.info = info
        self.other_threshold = info.other_threshold if other_threshold is None else other_threshold
        self.outputs: dict[str, tuple[int, ...]] = {}
        """Every graph output's shape after the batch axis, as the warm-up run produced it."""
        self._threads = (intra_op_threads, inter_op_threads)
        self._session: Any = None
        self._lock = threading.Lock()

    @property
    def image_shape(self) -> tuple[int, ...]:
        """One input image's shape, (3, H, W), from the metadata's input_shape."""
        return tuple(int(d or 1) for d in self.info.input_shape[1:])

    @property
    def ready(self) -> bool:
        """Loaded and warmed."""
        return self._session is not None

    def load(self, *, warm_batch: int = 1) -> None:
        """Checks the sha256, opens the session (ORT_ENABLE_ALL) and warms it up ONCE: one run
        of ``warm_batch`` zero images through every output, which also records ``outputs``."""
        with self._lock:
            if self._session is not None:
                return
            data = self.info.path.read_bytes()
            if hashlib.sha256(data).hexdigest() != self.info.sha256:
                raise ModelError(f"{self.info.path} does not match the sha256 in its metadata")
            session = open_session(data, *self._threads)
            names = [o.name for o in session.get_outputs()]
            warm = np.zeros((warm_batch, *self.image_shape), dtype=np.float32)
            arrays = session.run(names, {self.info.input_name: warm})
            self.outputs = {n: tuple(a.shape[1:]) for n, a in zip(names, arrays, strict=True)}
            self._session = session
        log.info("model %s/%s loaded and warmed up", self.info.name, self.info.version)

    def predict(self, batch: np.ndarray) -> list[Prediction]:
        """Labels and probabilities for a preprocessed float32 batch [N, 3, 224, 224]."""
        if batch.ndim != 4 or batch.shape[1:] != self.image_shape:
            expected = ", ".join(map(str, self.image_shape))
            raise InvalidInput(f"expected a [N, {expected}] batch, got {list(batch.shape)}")
        if batch.shape[0] == 0:
            return []
        (probabilities,) = self._session.run(
            [PROBABILITIES], {self.info.input_name: batch.astype(np.float32, copy=False)}
        )
        return decide(probabilities, self.other_threshold)

    def infer(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Runs the raw graph; returns every output (probabilities, logits, features) by name."""
        expected = {i.name for i in self._session.get_inputs()}
        if set(inputs) != expected:
            raise InvalidInput(f"inputs must be exactly {sorted(expected)}, got {sorted(inputs)}")
        names = list(self.outputs)
        try:
            outputs = self._session.run(
                names, {k: v.astype(np.float32, copy=False) for k, v in inputs.items()}
            )
        except Exception as exc:  # onnxruntime reports bad shapes as its own exception types
            raise InvalidInput(f"the model rejected the input: {exc}") from exc
        return dict(zip(names, outputs, strict=True))


def open_session(data: bytes, intra_op_threads: int = 1, inter_op_threads: int = 1) -> Any:
    """An ONNX Runtime CPU session on ``data`` (ORT_ENABLE_ALL, intra-op threads that sleep
    instead of spinning between runs: spinning threads took the CPU from the other batches and
    the HTTP layer); what ORT raises on bad bytes propagates (the upload validator reports it)."""
    import onnxruntime as ort

    _share_arena(ort)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads, options.inter_op_num_threads = intra_op_threads, inter_op_threads
    options.add_session_config_entry("session.use_env_allocators", "1")
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


_arena_lock = threading.Lock()
_arena_shared = False


def _share_arena(ort: Any) -> None:
    """One CPU memory arena for every session of the process (registered once), instead of one
    per session: the arenas of six sessions (three models, each two sessions then) held 457 MB,
    the shared one 352 MB, at the same speed (docs/benchmarks.md)."""
    global _arena_shared
    with _arena_lock:
        if _arena_shared:
            return
        info = ort.OrtMemoryInfo(
            "Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT
        )
        ort.create_and_register_allocator(info, ort.OrtArenaCfg(0, -1, -1, -1))
        _arena_shared = True


def discover(model_dir: Path) -> list[ModelInfo]:
    """Every ``<name>/<version>/model.onnx`` under model_dir, sorted by name then version."""
    if not model_dir.is_dir():
        return []
    found = [ModelInfo.from_dir(p.parent) for p in model_dir.glob("*/*/model.onnx")]
    return sorted(found, key=lambda info: (info.name, info.version))
