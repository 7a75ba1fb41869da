"""One served model version: its runtime, its micro-batcher, and the data-plane calls on it.

`status` is `loading`, `ready` or `failed` (with `error`); `source` says where it came from
(`build`: the model directory; `upload`: the registry's store). Only ready versions are handed
out for traffic (`ModelRegistry.serving`, `Serving`), so nothing here checks readiness again.
"""

from __future__ import annotations

import functools
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from classifier.batching import MicroBatcher
from classifier.errors import ClassifierError
from classifier.metrics import InferenceMetrics
from classifier.model import ModelInfo, ModelRuntime, Prediction
from classifier.preprocess import preprocess, resize_for
from classifier.refs import ref

T = TypeVar("T")
BUILD, UPLOAD = "build", "upload"


@dataclass
class ServedModel:
    """One model version; `error` says why it failed to load, if it did."""

    info: ModelInfo
    runtime: ModelRuntime
    batcher: MicroBatcher
    metrics: InferenceMetrics
    source: str = BUILD
    error: str | None = None

    @property
    def labels(self) -> tuple[str, str]:
        return (self.info.name, self.info.version)

    @property
    def ref(self) -> str:
        return ref(*self.labels)

    @property
    def ready(self) -> bool:
        return self.runtime.ready

    @property
    def status(self) -> str:
        return "ready" if self.ready else ("failed" if self.error else "loading")

    @property
    def crop(self) -> tuple[int, int]:
        _, height, width = self.runtime.image_shape
        return (height, width)

    @property
    def resize(self) -> int:
        return resize_for(self.crop, self.info.preprocessing.get("resize_to"))

    def same_input(self, other: ServedModel) -> bool:
        """Whether one preprocessed tensor fits both (a shadow then skips a second decode)."""
        return (self.crop, self.resize) == (other.crop, other.resize)

    def load(self) -> None:
        """Load and warm the runtime with one full-size batch (what the batcher will run)."""
        self.runtime.load(warm_batch=self.batcher.max_batch_size)

    def _preprocess(self, data: bytes, max_pixels: int) -> np.ndarray:
        return preprocess(data, max_pixels=max_pixels, crop=self.crop, resize=self.resize)

    async def predict(self, tensor: np.ndarray) -> Prediction:
        """One preprocessed image through the micro-batcher."""
        return await self._counted(self.batcher.submit(tensor))

    async def classify(self, data: bytes, *, max_pixels: int) -> tuple[Prediction, np.ndarray]:
        """Image bytes through the micro-batcher, decoded on its inference thread (what it
        raises for a bad image fails this image only); returns the tensor too, for copies."""
        prepare = functools.partial(self._preprocess, data, max_pixels)
        return await self._counted(self.batcher.submit_image(prepare))

    async def infer(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the raw graph on the caller's own batch, on an inference thread."""
        return await self._counted(self._infer(inputs))

    async def _infer(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
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
