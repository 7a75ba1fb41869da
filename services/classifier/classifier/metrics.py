"""The classifier's inference and deployment metrics, on the same registry as the kit's HTTP ones.

Inference names follow Triton's (`nv_inference_*`), so dashboards built for Triton read this
service. Durations are histograms in seconds, named `..._seconds`; Triton's own are microsecond
counters. Deployment metrics (`classifier_*`) are per version and role (`primary`, `candidate`,
`shadow`, `explicit`: a request that named its model); counters count this replica's traffic,
the `..._ratio` / `_share` gauges are the whole fleet's, read from Redis at each sync.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

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


_ROLE = ("model", "version", "role")


class DeploymentMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "classifier_version_requests", "Images run, by version and role.", _ROLE,
            registry=registry,
        )  # fmt: skip
        self.errors = Counter(
            "classifier_version_errors", "Model errors, by version and role.", _ROLE,
            registry=registry,
        )  # fmt: skip
        self.latency = Histogram(
            "classifier_version_latency_seconds", "Model time per image (preprocessed input to "
            "answer), by version and role.", _ROLE, buckets=_LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip
        self.comparisons = Counter(
            "classifier_version_comparisons", "Images the candidate and the primary both "
            "labelled, by candidate and outcome (agree, disagree).",
            ("model", "version", "outcome"), registry=registry,
        )  # fmt: skip
        self.feedback = Counter(
            "classifier_feedback", "Feedback recorded here, by version and outcome (right, wrong).",
            ("model", "version", "outcome"), registry=registry,
        )  # fmt: skip
        self.agreement = Gauge(
            "classifier_version_agreement_ratio", "Share of compared images the candidate "
            "labelled as the primary did (fleet, this rollout).", _LABELS, registry=registry,
        )  # fmt: skip
        self.accuracy = Gauge(
            "classifier_version_feedback_accuracy_ratio", "Share of feedback that agreed with the "
            "version's label (fleet, all time).", _LABELS, registry=registry,
        )  # fmt: skip
        self.share = Gauge(
            "classifier_version_traffic_share_ratio", "Share of this rollout's answered images "
            "that the version answered (fleet).", _LABELS, registry=registry,
        )  # fmt: skip
        self.generation = Gauge(
            "classifier_deployment_generation", "Generation of the deployment applied here.",
            registry=registry,
        )  # fmt: skip
        self.store_up = Gauge(
            "classifier_deployment_store_up", "1 when the last sync with Redis worked.",
            registry=registry,
        )  # fmt: skip
        self.shed = Counter(
            "classifier_shed", "Work dropped because its queue was full (shadow, compare, "
            "record) or its store down.", ("queue",), registry=registry,
        )  # fmt: skip
        self.rollbacks = Counter(
            "classifier_auto_rollbacks", "Canaries this replica rolled back.", registry=registry
        )
