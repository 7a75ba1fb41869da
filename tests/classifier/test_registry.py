"""The registry with the real models: not ready while loading, one warm-up per model, ready once."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from classifier.config import Settings
from classifier.errors import ModelNotFound, ModelNotReady
from classifier.metrics import InferenceMetrics
from classifier.registry import ModelRegistry
from tests.servers import wait_until


def count_session_runs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, ...]]:
    """Every ONNX Runtime run from now on, by the shape of its first input."""
    import onnxruntime as ort

    runs: list[tuple[int, ...]] = []

    class CountingSession(ort.InferenceSession):  # type: ignore[misc]
        def run(self, output_names: Any, input_feed: Any, run_options: Any = None) -> Any:
            runs.append(next(iter(input_feed.values())).shape)
            return super().run(output_names, input_feed, run_options)

    monkeypatch.setattr(ort, "InferenceSession", CountingSession)
    return runs


@pytest.mark.anyio
async def test_not_ready_while_loading_then_each_model_warmed_once(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = count_session_runs(monkeypatch)
    registry = ModelRegistry(settings, InferenceMetrics(CollectorRegistry()))
    registry.discover()
    names = registry.names()
    assert not registry.ready
    assert "loading" in (registry.not_ready_reason() or "")
    with pytest.raises(ModelNotReady, match="loading"):
        registry.serving()
    registry.start()
    try:
        wait_until(lambda: registry.ready, timeout=60, what="models to warm up")
        served = registry.serving()
    finally:
        await registry.stop()
    batch = settings.max_batch_size
    shapes = [(batch, *s.runtime.image_shape) for n in names for s in registry.versions(n)]
    full = [r for r in runs if r[0] == batch]
    assert sorted(full) == sorted(shapes)  # one full-size warm-up per model version, its own size
    assert len(runs) == len(shapes)  # one session per version: nothing else runs
    assert (batch, 3, 224, 224) in runs
    assert registry.not_ready_reason() is None
    assert served.ready
    assert served.runtime.outputs["probabilities"] == (3,)


def test_unknown_names_and_versions_are_not_found(settings: Settings) -> None:
    registry = ModelRegistry(settings, InferenceMetrics(CollectorRegistry()))
    registry.discover()
    with pytest.raises(ModelNotFound, match="nope"):
        registry.serving("nope")
    with pytest.raises(ModelNotFound, match="999"):
        registry.serving(registry.names()[0], "999")
