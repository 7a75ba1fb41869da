"""The classifier's inference metrics, on the same registry as the kit's HTTP metrics.

Names follow Triton's (`nv_inference_*`), so dashboards built for Triton read this service.
Durations are histograms in seconds, named `..._seconds`; Triton's own are microsecond counters.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_LABELS = ("model", "version")


class InferenceMetrics:
    """Per model version: requests that succeeded or failed, images, executions, timings."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

        def counter(name: str, doc: str) -> Counter:
            return Counter(name, doc, _LABELS, registry=registry)

        def histogram(name: str, doc: str, buckets: tuple[float, ...]) -> Histogram:
            return Histogram(name, doc, _LABELS, buckets=buckets, registry=registry)

        self.success = counter("nv_inference_request_success", "Inference requests that succeeded.")
        self.failure = counter("nv_inference_request_failure", "Inference requests that failed.")
        self.count = counter("nv_inference_count", "Images inferred (a batch of n counts n).")
        self.exec_count = counter("nv_inference_exec_count", "Model executions (batches run).")
        self.queue_seconds = histogram(
            "nv_inference_queue_duration_seconds",
            "Time an image waited for the model.",
            _LATENCY_BUCKETS,
        )
        self.compute_seconds = histogram(
            "nv_inference_compute_infer_duration_seconds",
            "Model execution time per batch.",
            _LATENCY_BUCKETS,
        )
        self.batch_size = histogram(
            "nv_inference_batch_size", "Images per model execution.", (1, 2, 4, 8, 16, 32, 64)
        )
