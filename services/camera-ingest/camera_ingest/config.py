"""Settings of camera-ingest: every variable is INGEST_<NAME> (see .env.example)."""

from __future__ import annotations

import os
import socket

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from camera_ingest.egress import IPNetwork, parse_networks


def _default_consumer() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INGEST_", extra="ignore")

    redis_url: str = "redis://127.0.0.1:6379/0"
    classifier_url: str = "http://127.0.0.1:8002"
    aggregator_url: str = "http://127.0.0.1:8003"
    connect_timeout_s: float = Field(2.0, gt=0)
    request_timeout_s: float = Field(10.0, gt=0)

    # Frames
    max_frame_bytes: int = Field(10 * 1024 * 1024, gt=0)
    frame_ttl_s: int = Field(24 * 3600, gt=0, description="frame bytes expire after this")
    record_ttl_s: int = Field(7 * 24 * 3600, gt=0, description="frame status records expire")
    dedupe_window_s: int = Field(300, ge=0, description="same bytes, same camera -> same frame")
    idempotency_ttl_s: int = Field(24 * 3600, gt=0)

    # Outbox and delivery
    outbox_max_depth: int = Field(10_000, gt=0)
    retry_after_s: int = Field(5, gt=0, description="Retry-After sent with 503 outbox full")
    worker_enabled: bool = True
    worker_concurrency: int = Field(
        8,
        gt=0,
        description="frames delivered at once (8: the classifier's best batching point; with 4 "
        "the delivery, not the CPU, capped the pipeline near 50 frames/s: docs/benchmarks.md)",
    )
    consumer_name: str = Field(default_factory=_default_consumer)
    reclaim_min_idle_s: float = Field(30.0, gt=0, description="pending this long -> reclaimed")
    reclaim_interval_s: float = Field(5.0, gt=0)
    consumer_ttl_s: float = Field(
        6.0, gt=0, description="liveness key TTL: a crashed consumer's frames are taken over after"
    )
    read_block_ms: int = Field(1000, gt=0)
    retry_base_s: float = Field(0.2, gt=0)
    retry_max_s: float = Field(10.0, gt=0)
    max_attempts: int = Field(0, ge=0, description="0: retry transient failures forever")
    max_server_errors: int = Field(
        5,
        ge=0,
        description="same frame answered 500 (not 502/503/504) N times in a row, the breaker "
        "closed, -> dead (a frame alone dies only if N <= breaker_failures)",
    )
    breaker_failures: int = Field(5, gt=0, description="consecutive failures that open it")
    breaker_reset_s: float = Field(5.0, gt=0, description="open -> half-open after this")
    shutdown_grace_s: float = Field(5.0, ge=0)

    # Frame archive (delivered frames, their classification; the latest frame of each camera)
    archive_dir: str = Field(
        "",
        description="folder of archived frame files; empty: a temporary folder deleted at stop "
        "(set it to keep frames across restarts; `make run` uses var/frames)",
    )
    archive_max_age_s: float = Field(24 * 3600, gt=0, description="frames older than this go")
    archive_max_per_camera: int = Field(500, ge=1, description="a camera's oldest frames go")
    archive_max_bytes: int = Field(
        512 * 1024 * 1024, gt=0, description="total bytes of archived frames; oldest go first"
    )
    archive_sweep_interval_s: float = Field(60.0, gt=0, description="periodic retention pass")
    archive_orphan_grace_s: float = Field(
        300.0, ge=0, description="a file without metadata this old is an orphan: removed"
    )
    archive_write_timeout_s: float = Field(
        10.0, gt=0, description="an archive write slower than this is given up (delivery goes on)"
    )

    # Polled cameras
    poll_enabled: bool = True
    poll_tick_s: float = Field(0.2, gt=0)
    poll_timeout_s: float = Field(5.0, gt=0)
    poll_concurrency: int = Field(16, gt=0)
    poll_offline_after: int = Field(3, gt=0, description="consecutive failures -> offline")
    poll_backoff_max_s: float = Field(60.0, gt=0)
    poll_skip_identical: bool = True
    push_offline_after_s: float = Field(300.0, gt=0, description="push camera silent -> offline")
    snapshot_allow_networks: str = Field(
        "",
        description="comma list of CIDRs snapshot URLs may reach although loopback, private, "
        "link-local, ... (see camera_ingest/egress.py); empty: public addresses only",
    )

    @field_validator("snapshot_allow_networks")
    @classmethod
    def _networks(cls, value: str) -> str:
        parse_networks(value)  # a typo fails at start-up, naming the entry
        return value

    @property
    def snapshot_allow(self) -> tuple[IPNetwork, ...]:
        return parse_networks(self.snapshot_allow_networks)

    service_name: str = "camera-ingest"
    log_level: str = "INFO"
