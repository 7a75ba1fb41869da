"""Settings: every knob of the aggregator, read from AGGREGATOR_* environment variables."""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AGGREGATOR_", extra="ignore")

    service_name: str = "aggregator"
    log_level: str = "INFO"
    redis_url: str = "redis://127.0.0.1:6379/1"
    key_prefix: str = "agg:"
    redis_timeout_s: float = Field(2.0, gt=0)
    watch_retries: int = Field(200, ge=1)

    # Fusion (docs/aggregation.md explains each one).
    half_life_s: float = Field(60.0, gt=0)
    enter_threshold: float = Field(0.9, gt=0, le=1)
    leave_threshold: float = Field(0.6, gt=0, le=1)
    min_run: int = Field(3, ge=1)
    min_weight: float = Field(1.5, ge=0)
    prob_floor: float = Field(0.01, gt=0, lt=0.34)
    max_margin: float = Field(12.0, gt=0)
    late_tolerance_s: float = Field(2.0, ge=0)
    max_clock_skew_s: float = Field(300.0, ge=0)
    stale_after_s: float = Field(120.0, gt=0)

    # Storage.
    history_max: int = Field(200, ge=1)
    frame_ttl_s: int = Field(7 * 24 * 3600, ge=1)
    events_maxlen: int = Field(10_000, ge=10)
    batch_max: int = Field(100, ge=1)

    # Alerts.
    alert_interval_s: float = Field(5.0, gt=0)
    mismatch_confidence: float = Field(0.9, gt=0, le=1)
    mismatch_after_s: float = Field(60.0, ge=0)
    not_seen_after_s: float = Field(300.0, ge=0)
    adopted_occupied_after_s: float = Field(300.0, ge=0)
    alert_retention_s: float = Field(7 * 24 * 3600.0, gt=0)  # resolved alerts are pruned after it

    # Camera health alerts, from camera-ingest's `GET /v1/cameras` (None: off).
    ingest_url: str | None = None
    camera_offline_alert_s: float = Field(300.0, ge=0)  # also the quiet window of frames_dead
    camera_poll_s: float = Field(15.0, gt=0)
    ingest_timeout_s: float = Field(2.0, gt=0)

    # Server-sent events.
    sse_block_ms: int = Field(1000, ge=10)
    sse_heartbeat_s: float = Field(15.0, gt=0)

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.leave_threshold > self.enter_threshold:
            raise ValueError("leave_threshold must not exceed enter_threshold (hysteresis)")
        if self.sse_block_ms >= self.redis_timeout_s * 1000:
            raise ValueError("sse_block_ms must be shorter than redis_timeout_s")
        return self
