"""The micro-batcher with the real model runtime: grouping, order, overload, failures."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from classifier.batching import MicroBatcher
from classifier.errors import CorruptImage, InvalidInput, Overloaded
from classifier.metrics import InferenceMetrics
from classifier.model import ModelRuntime, Prediction, discover
from classifier.preprocess import preprocess

pytestmark = pytest.mark.anyio
LABELS = ("m", "1")


@pytest.fixture(scope="module")
def runtime(model_dir: Path) -> ModelRuntime:
    runtime = ModelRuntime(discover(model_dir)[0])
    runtime.load()
    return runtime


@pytest.fixture(scope="module")
def tensors(samples: list[tuple[Path, str]]) -> list[np.ndarray]:
    return [preprocess(p.read_bytes(), max_pixels=10**8) for p, _ in samples]


def sample_count(metrics: InferenceMetrics, name: str) -> float:
    value = metrics.registry.get_sample_value(name, {"model": LABELS[0], "version": LABELS[1]})
    return value or 0.0


def make(predict: Callable[[np.ndarray], list[Prediction]], **overrides: float) -> MicroBatcher:
    options: dict[str, Any] = {
        "max_batch_size": 4,
        "max_wait_ms": 50,
        "max_queue": 64,
        "workers": 1,
    }
    options.update(overrides)
    return MicroBatcher(
        predict, metrics=InferenceMetrics(CollectorRegistry()), labels=LABELS, **options
    )


async def test_concurrent_requests_share_batches_in_order(
    runtime: ModelRuntime, tensors: list[np.ndarray], samples: list[tuple[Path, str]]
) -> None:
    batcher = make(runtime.predict)
    batcher.start()
    try:
        results = await asyncio.gather(*(batcher.submit(t) for t in tensors[:8]))
    finally:
        await batcher.stop()
    alone = runtime.predict(np.stack(tensors[:8]))
    assert [r.label for r in results] == [label for _, label in samples[:8]]
    for got, expected in zip(results, alone, strict=True):
        assert got.probabilities == pytest.approx(expected.probabilities, abs=1e-5)
    metrics = batcher._metrics
    assert sample_count(metrics, "nv_inference_exec_count_total") == 2  # 8 images, batches of 4
    assert sample_count(metrics, "nv_inference_count_total") == 8
    assert sample_count(metrics, "nv_inference_batch_size_sum") == 8
    assert sample_count(metrics, "nv_inference_queue_duration_seconds_count") == 8


async def test_no_wait_runs_sequential_requests_alone(
    runtime: ModelRuntime, tensors: list[np.ndarray]
) -> None:
    batcher = make(runtime.predict, max_wait_ms=0)
    batcher.start()
    try:
        for tensor in tensors[:3]:
            await batcher.submit(tensor)
    finally:
        await batcher.stop()
    assert sample_count(batcher._metrics, "nv_inference_exec_count_total") == 3


async def test_full_queue_is_overloaded(runtime: ModelRuntime, tensors: list[np.ndarray]) -> None:
    batcher = make(runtime.predict, max_queue=2)
    batcher.start()
    try:
        outcomes = await asyncio.gather(
            *(batcher.submit(t) for t in tensors[:5]), return_exceptions=True
        )
    finally:
        await batcher.stop()
    assert [type(o) for o in outcomes[2:]] == [Overloaded] * 3
    assert all(isinstance(o, Prediction) for o in outcomes[:2])


async def test_a_failing_batch_fails_its_requests_and_the_worker_goes_on(
    runtime: ModelRuntime, tensors: list[np.ndarray]
) -> None:
    batcher = make(runtime.predict, max_batch_size=1, max_wait_ms=0)
    batcher.start()
    try:
        with pytest.raises(InvalidInput):
            await batcher.submit(np.zeros((3, 10, 10), dtype=np.float32))
        after = await batcher.submit(tensors[0])
    finally:
        await batcher.stop()
    assert after.label == "cat"


async def test_a_cancelled_request_does_not_disturb_the_others(
    runtime: ModelRuntime, tensors: list[np.ndarray]
) -> None:
    batcher = make(runtime.predict)
    batcher.start()
    try:
        doomed = asyncio.ensure_future(batcher.submit(tensors[0]))
        kept = asyncio.ensure_future(batcher.submit(tensors[6]))
        await asyncio.sleep(0)  # both are queued
        doomed.cancel()
        result = await kept
    finally:
        await batcher.stop()
    assert doomed.cancelled()
    assert result.label == "dog"


async def test_stop_fails_what_still_waits(
    runtime: ModelRuntime, tensors: list[np.ndarray]
) -> None:
    batcher = make(runtime.predict)  # never started: nothing takes from the queue
    waiting = asyncio.ensure_future(batcher.submit(tensors[0]))
    await asyncio.sleep(0)
    await batcher.stop()
    with pytest.raises(Overloaded, match="shutting down"):
        await waiting


async def test_images_decode_on_the_inference_threads_and_a_bad_one_fails_only_itself(
    runtime: ModelRuntime, samples: list[tuple[Path, str]]
) -> None:
    decoded_on: set[str] = set()

    def prepare(data: bytes) -> Callable[[], np.ndarray]:
        def decode() -> np.ndarray:
            decoded_on.add(threading.current_thread().name)
            return preprocess(data, max_pixels=10**8)

        return decode

    batcher = MicroBatcher(
        runtime.predict,
        max_batch_size=4,
        max_wait_ms=20,  # the bad image shares a batch with good ones
        max_queue=64,
        workers=2,
        metrics=InferenceMetrics(CollectorRegistry()),
        labels=LABELS,
    )
    batcher.start()
    images = [p.read_bytes() for p, _ in samples[:6]]
    images.insert(2, b"\xff\xd8 not a jpeg")
    try:
        outcomes = await asyncio.gather(
            *(batcher.submit_image(prepare(data)) for data in images), return_exceptions=True
        )
    finally:
        await batcher.stop()
    assert isinstance(outcomes[2], CorruptImage)
    good = [o for i, o in enumerate(outcomes) if i != 2]
    assert all(isinstance(o, tuple) for o in good)
    expected = [label for _, label in samples[:6]]
    assert [o[0].label for o in good if isinstance(o, tuple)] == expected
    for outcome, data in zip(good, [d for i, d in enumerate(images) if i != 2], strict=True):
        assert isinstance(outcome, tuple)
        np.testing.assert_array_equal(outcome[1], preprocess(data, max_pixels=10**8))
    assert decoded_on
    assert all(name.startswith("infer-") for name in decoded_on)
