"""The batch service's own Prometheus metrics (jobs, items, chunks, classifier requests, queue).

They share one registry with the kit's per-route HTTP metrics (`shelter_kit.install` is given
`Metrics.registry`); one registry per app, so tests can build many apps in one process. The
counters count what this process did; a job's own counts are in its record (GET the job).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = r = registry or CollectorRegistry()
        self.jobs = Counter("batch_jobs_created", "Jobs created, by source", ["source"], registry=r)
        self.items = Counter(
            "batch_items",
            "Item outcomes handed to the store: recorded, or already recorded (a redo)",
            ["outcome"],
            registry=r,
        )
        self.chunks = Counter(
            "batch_chunks",
            "Chunks handled: done, skipped (job ended), lost (taken over), left-pending (stop)",
            ["outcome"],
            registry=r,
        )
        self.requests = Counter(
            "batch_classifier_requests",
            "Requests to /v1/predict/batch by result",
            ["result"],
            registry=r,
        )
        self.queue_depth = Gauge("batch_queue_depth", "Chunks not yet done", registry=r)
        self.queue_pending = Gauge(
            "batch_queue_pending", "Chunks taken by a worker, not yet acked", registry=r
        )
