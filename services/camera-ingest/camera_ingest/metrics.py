"""camera-ingest's own Prometheus metrics (frames, deliveries, outbox, breakers, polls, archive).

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
        self.archive_bytes = Gauge(
            "ingest_archive_bytes", "Bytes of archived frames (their file sizes)", registry=r
        )
        self.archive_files = Gauge("ingest_archive_files", "Archived frames", registry=r)
        self.archive_writes = Counter(
            "ingest_archive_writes_total", "Delivered frames archived", registry=r
        )
        self.archive_write_failures = Counter(
            "ingest_archive_write_failures_total",
            "Delivered frames the archive could not keep (disk full, disk error, timeout)",
            registry=r,
        )
        self.archive_evictions = Counter(
            "ingest_archive_evictions_total",
            "Archived frames removed, by reason (age, count, bytes, camera_deleted)",
            ["reason"],
            registry=r,
        )
        for reason in ("age", "count", "bytes", "camera_deleted"):
            self.archive_evictions.labels(reason)
        self.archive_orphans = Counter(
            "ingest_archive_orphans_removed_total",
            "Archive files without metadata (a crash mid-write) removed by the sweep",
            registry=r,
        )
