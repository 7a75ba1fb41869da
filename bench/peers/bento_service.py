"""The BentoML peer: the same model file and the same preprocessing as the classifier, served
by BentoML with adaptive batching. Bench-only: it runs in build/bench-venv (bench/requirements.txt),
never in a service's environment.

    build/bench-venv/bin/bentoml serve bench.peers.bento_service:PetClassifier --port 9871

Settings come from the environment (read at import, as BentoML's decorators need them):
BENCH_MODEL (a model folder, default build/models/efficientnet-lite0-pets/1),
BENCH_BENTO_WORKERS (2), BENCH_BENTO_THREADS (ORT intra-op threads per worker, 1),
BENCH_BENTO_BATCH (max batch size, 8) and BENCH_BENTO_LATENCY_MS (max latency, 1000).
POST /classify, multipart with one file part `images`; answers a JSON list of one
{"label", "probabilities"}.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import bentoml
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "services" / "classifier"))

from classifier.preprocess import preprocess, resize_for  # noqa: E402  (pure: PIL + numpy)

MODEL = Path(os.environ.get("BENCH_MODEL", ROOT / "build/models/efficientnet-lite0-pets/1"))
WORKERS = int(os.environ.get("BENCH_BENTO_WORKERS", "2"))
THREADS = int(os.environ.get("BENCH_BENTO_THREADS", "1"))
BATCH = int(os.environ.get("BENCH_BENTO_BATCH", "8"))
LATENCY_MS = int(os.environ.get("BENCH_BENTO_LATENCY_MS", "1000"))
LABELS = ("cat", "dog", "other")


@bentoml.service(workers=WORKERS, traffic={"timeout": 60})
class PetClassifier:
    def __init__(self) -> None:
        import onnxruntime as ort

        meta = json.loads((MODEL / "metadata.json").read_text())
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads, options.inter_op_num_threads = THREADS, 1
        self.session = ort.InferenceSession(
            str(MODEL / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )
        self.input = str(meta["input_name"])
        _, _, height, width = meta["input_shape"]
        self.crop = (int(height), int(width))
        self.resize = resize_for(self.crop, meta["preprocessing"].get("resize_to"))
        self.threshold = float(meta["other_threshold"])

    @bentoml.api(  # type: ignore[untyped-decorator]
        batchable=True, max_batch_size=BATCH, max_latency_ms=LATENCY_MS
    )
    def classify(self, images: list[Path]) -> list[dict[str, Any]]:
        tensors = [
            preprocess(p.read_bytes(), max_pixels=40_000_000, crop=self.crop, resize=self.resize)
            for p in images
        ]
        (probabilities,) = self.session.run(["probabilities"], {self.input: np.stack(tensors)})
        out = []
        for cat, dog, other in probabilities.astype(float).tolist():
            label = "other" if cat + dog < self.threshold else ("cat" if cat >= dog else "dog")
            out.append({"label": label, "probabilities": {"cat": cat, "dog": dog, "other": other}})
        return out
