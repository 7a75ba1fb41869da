"""camera-ingest's own Prometheus metrics (frames, deliveries, outbox, breakers, polls).

They share one registry with the kit's per-route HTTP metrics (`shelter_kit.install` is given
`Metrics.registry`); one registry per app, so tests can build many apps in one process.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = r = registry or CollectorRegistry()
        self.frames_accepted = Counter(
            "ingest_frames_accepted_total", "Frames persisted in the outbox", ["source"], registry=r
        )
        self.frames_duplicate = Counter(
            "ingest_frames_duplicate_total", "Uploads answered with an existing frame", registry=r
        )
        self.frames_rejected = Counter(
            "ingest_frames_rejected_total", "Frames refused", ["reason"], registry=r
        )
        self.frames_skipped = Counter(
            "ingest_frames_skipped_total", "Polled frames identical to the previous one", registry=r
        )
        self.deliveries = Counter(
            "ingest_deliveries_total", "Delivery outcomes", ["outcome"], registry=r
        )
        self.aggregator_conflicts = Counter(
            "ingest_aggregator_conflicts_total",
            "Frames the aggregator answered 409 for (stored before with another body)",
            registry=r,
        )
        self.downstream_calls = Counter(
            "ingest_downstream_calls_total",
            "Calls to downstreams",
            ["service", "result"],
            registry=r,
        )
        self.breaker_state = Gauge(
            "ingest_breaker_state", "0 closed, 1 half-open, 2 open", ["service"], registry=r
        )
        self.outbox_depth = Gauge("ingest_outbox_depth", "Frames not yet delivered", registry=r)
        self.outbox_oldest_age = Gauge(
            "ingest_outbox_oldest_age_seconds", "Age of the oldest undelivered frame", registry=r
        )
        self.outbox_pending = Gauge(
            "ingest_outbox_pending", "Frames taken by a worker, not yet acked", registry=r
        )
        self.outbox_dead = Gauge("ingest_outbox_dead", "Frames in the dead-letter set", registry=r)
        self.camera_online = Gauge(
            "ingest_camera_online", "1 online, 0 offline (polled cameras)", ["camera"], registry=r
        )
        self.polls = Counter("ingest_polls_total", "Snapshot fetches", ["result"], registry=r)
