"""The models this process serves: discovered at start-up, loaded and warmed in the background.

A `Deployment` is one model version with its runtime and micro-batcher; the `ModelRegistry` finds
deployments by name and version and says whether all of them are ready. Loading happens on a
plain thread, so the event loop answers /healthz and /v2/health/live while ONNX Runtime loads.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from classifier.batching import MicroBatcher
from classifier.config import Settings
from classifier.errors import ClassifierError, ModelError, ModelNotFound, ModelNotReady
from classifier.model import ModelInfo, ModelRuntime, Prediction, discover
from classifier.preprocess import preprocess
from classifier.telemetry import Metrics

logger = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class TensorSpec:
    """One graph output as the Open Inference Protocol describes it (batch dimension -1)."""

    name: str
    datatype: str
    shape: tuple[int, ...]


@dataclass
class Deployment:
    """One model version: its runtime, its batcher, and whether it is warmed up."""

    info: ModelInfo
    runtime: ModelRuntime
    batcher: MicroBatcher
    metrics: Metrics
    outputs: list[TensorSpec] = field(default_factory=list)
    warmed: bool = False
    error: str | None = None

    @property
    def labels(self) -> tuple[str, str]:
        return (self.info.name, self.info.version)

    def warm_up(self) -> None:
        """Load the session, run a full-size batch, and record the graph's outputs."""
        self.runtime.load()
        size = self.batcher.max_batch_size
        shape = [size] + [int(d or 1) for d in self.info.input_shape[1:]]
        zeros = np.zeros(shape, dtype=np.float32)
        self.runtime.predict(zeros)
        outputs = self.runtime.infer({self.info.input_name: zeros[:1]})
        self.outputs = [
            TensorSpec(name, "FP32", (-1, *array.shape[1:])) for name, array in outputs.items()
        ]
        self.warmed = True

    def require_ready(self) -> None:
        if not self.warmed:
            reason = f": {self.error}" if self.error else " (loading)"
            raise ModelNotReady(f"model {self.info.name}/{self.info.version} is not ready{reason}")

    async def classify(self, data: bytes, *, pool: Executor, max_pixels: int) -> Prediction:
        """Decode and preprocess on `pool`, then predict through the micro-batcher."""
        return await self._counted(self._classify(data, pool=pool, max_pixels=max_pixels))

    async def _classify(self, data: bytes, *, pool: Executor, max_pixels: int) -> Prediction:
        self.require_ready()
        loop = asyncio.get_running_loop()
        tensor = await loop.run_in_executor(pool, _preprocess, data, max_pixels)
        result: Prediction = await self.batcher.submit(tensor)
        return result

    async def infer(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the raw graph on the caller's own batch, on an inference thread."""
        return await self._counted(self._infer(inputs))

    async def _infer(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        self.require_ready()
        outputs = await self.batcher.run(self.runtime.infer, inputs)
        batch = len(next(iter(inputs.values()))) if inputs else 0
        self.metrics.count.labels(*self.labels).inc(batch)
        self.metrics.exec_count.labels(*self.labels).inc()
        return outputs

    async def _counted(self, work: Coroutine[Any, Any, T]) -> T:
        try:
            result = await work
        except ClassifierError:
            self.metrics.failure.labels(*self.labels).inc()
            raise
        self.metrics.success.labels(*self.labels).inc()
        return result


def _preprocess(data: bytes, max_pixels: int) -> np.ndarray:
    return preprocess(data, max_pixels=max_pixels)


def _version_key(version: str) -> tuple[int, int | str]:
    return (0, int(version)) if version.isdigit() else (1, version)


class ModelRegistry:
    """Every deployment under the model directory, keyed by (name, version)."""

    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self._settings = settings
        self._metrics = metrics
        self._deployments: dict[tuple[str, str], Deployment] = {}
        self._thread: threading.Thread | None = None
        self._discover_error: str | None = None

    def discover(self) -> None:
        """Read every model's metadata (cheap); sessions are created later, by `start`."""
        try:
            infos = discover(self._settings.model_dir)
        except ModelError as exc:  # a bad metadata.json: stay up, not ready, and say why
            self._discover_error = str(exc)
            logger.error("model discovery failed: %s", exc)
            return
        for info in infos:
            self._deployments[(info.name, info.version)] = self._deploy(info)
        logger.info(
            "found %d model version(s) under %s", len(self._deployments), self._settings.model_dir
        )

    def _deploy(self, info: ModelInfo) -> Deployment:
        s = self._settings
        runtime = ModelRuntime(
            info,
            intra_op_threads=s.intra_op_threads,
            inter_op_threads=s.inter_op_threads,
            other_threshold=s.other_threshold,
        )
        batcher = MicroBatcher(
            runtime.predict,
            max_batch_size=s.max_batch_size,
            max_wait_ms=s.max_wait_ms,
            max_queue=s.max_queue,
            workers=s.inference_workers,
            metrics=self._metrics,
            labels=(info.name, info.version),
        )
        return Deployment(info, runtime, batcher, self._metrics)

    def start(self) -> None:
        """Start the batchers, and load + warm every model on a background thread."""
        for deployment in self._deployments.values():
            deployment.batcher.start()
        self._thread = threading.Thread(target=self._load_all, name="model-loader", daemon=True)
        self._thread.start()

    def _load_all(self) -> None:
        for deployment in self._deployments.values():
            try:
                deployment.warm_up()
            except Exception as exc:  # a broken model must not take the process down
                deployment.error = repr(exc)
                logger.exception("model %s/%s failed to load", *deployment.labels)

    async def stop(self) -> None:
        for deployment in self._deployments.values():
            await deployment.batcher.stop()

    @property
    def ready(self) -> bool:
        return bool(self._deployments) and all(d.warmed for d in self._deployments.values())

    def not_ready_reason(self) -> str:
        if not self._deployments:
            return self._discover_error or f"no model found under {self._settings.model_dir}"
        waiting = [d for d in self._deployments.values() if not d.warmed]
        return "; ".join(f"{d.info.name}/{d.info.version}: {d.error or 'loading'}" for d in waiting)

    def names(self) -> list[str]:
        return sorted({name for name, _ in self._deployments})

    def versions(self, name: str) -> list[Deployment]:
        """Every version of `name`, oldest first; ModelNotFound when there is none."""
        found = [d for (n, _), d in self._deployments.items() if n == name]
        if not found:
            raise ModelNotFound(f"no model named {name!r} (known: {', '.join(self.names())})")
        return sorted(found, key=lambda d: _version_key(d.info.version))

    def get(self, name: str | None = None, version: str | None = None) -> Deployment:
        """The named version, or the newest version of the default model."""
        name = name or self.default_name()
        if version is None:
            return self.versions(name)[-1]
        deployment = self._deployments.get((name, version))
        if deployment is None:
            self.versions(name)  # raises for an unknown name
            raise ModelNotFound(f"model {name!r} has no version {version!r}")
        return deployment

    def default_name(self) -> str:
        if self._settings.default_model:
            return self._settings.default_model
        names = self.names()
        if not names:
            raise ModelNotFound(f"no model found under {self._settings.model_dir}")
        return names[0]
