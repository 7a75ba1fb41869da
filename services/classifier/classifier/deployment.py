"""One served model version: its runtime, its micro-batcher, and the data-plane calls on it.

A `Deployment` is handed out by `ModelRegistry.serving` only once it is ready, so nothing here
checks readiness again: one check per request, where the request finds its model.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from classifier.batching import MicroBatcher
from classifier.errors import ClassifierError
from classifier.metrics import InferenceMetrics
from classifier.model import ModelInfo, ModelRuntime, Prediction
from classifier.preprocess import preprocess

T = TypeVar("T")


@dataclass
class Deployment:
    """One model version; `error` says why it failed to load, if it did."""

    info: ModelInfo
    runtime: ModelRuntime
    batcher: MicroBatcher
    metrics: InferenceMetrics
    error: str | None = None

    @property
    def labels(self) -> tuple[str, str]:
        return (self.info.name, self.info.version)

    @property
    def ready(self) -> bool:
        return self.runtime.ready

    def load(self) -> None:
        """Load and warm the runtime with one full-size batch (what the batcher will run)."""
        self.runtime.load(warm_batch=self.batcher.max_batch_size)

    async def classify(self, data: bytes, *, pool: Executor, max_pixels: int) -> Prediction:
        """Decode and preprocess on `pool`, then predict through the micro-batcher."""
        return await self._counted(self._classify(data, pool=pool, max_pixels=max_pixels))

    async def classify_many(
        self, images: Sequence[bytes], *, pool: Executor, max_pixels: int
    ) -> list[Prediction | ClassifierError]:
        """Every image, in order, concurrently (so they share model batches). An image that
        cannot be classified fails only itself: its error stands in its place. Anything that is
        not a ClassifierError is a bug and propagates."""
        outcomes = await asyncio.gather(
            *(self.classify(data, pool=pool, max_pixels=max_pixels) for data in images),
            return_exceptions=True,
        )
        results: list[Prediction | ClassifierError] = []
        for outcome in outcomes:
            if isinstance(outcome, ClassifierError) or not isinstance(outcome, BaseException):
                results.append(outcome)
            else:
                raise outcome
        return results

    async def _classify(self, data: bytes, *, pool: Executor, max_pixels: int) -> Prediction:
        loop = asyncio.get_running_loop()
        tensor = await loop.run_in_executor(pool, _preprocess, data, max_pixels)
        result: Prediction = await self.batcher.submit(tensor)
        return result

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


def _preprocess(data: bytes, max_pixels: int) -> np.ndarray:
    return preprocess(data, max_pixels=max_pixels)
