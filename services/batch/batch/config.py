"""Settings of the batch service: every variable is BATCH_<NAME> (see .env.example)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIB = 1024 * 1024


def _default_consumer() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BATCH_", extra="ignore")

    redis_url: str = "redis://127.0.0.1:6379/4"
    data_dir: Path = Field(
        Path("var/batch"),
        description="uploaded archives and fetched images while a job runs (shared by its workers)",
    )
    classifier_url: str = "http://127.0.0.1:8002"
    ingest_url: str = "http://127.0.0.1:8001"
    connect_timeout_s: float = Field(2.0, gt=0)
    request_timeout_s: float = Field(60.0, gt=0, description="one classifier batch request")

    # Jobs
    chunk_size: int = Field(100, ge=1, le=1000, description="items per queued chunk")
    max_items: int = Field(100_000, gt=0, description="items in one job, any source")
    retention_s: int = Field(7 * 24 * 3600, gt=0, description="a finished job's keys and files")
    max_job_age_s: int = Field(7 * 24 * 3600, gt=0, description="an unfinished job expires")
    max_json_bytes: int = Field(16 * MIB, gt=0)
    max_item_bytes: int = Field(10 * MIB, gt=0, description="one image (the classifier's limit)")

    # Uploaded archives (zip, tar, tar.gz/bz2/xz)
    max_upload_bytes: int = Field(512 * MIB, gt=0)
    archive_max_entries: int = Field(50_000, gt=0, description="entries of any kind, counted")
    archive_max_expanded_bytes: int = Field(2048 * MIB, gt=0, description="declared and read")

    # URL sources: the same server-side-request rules as camera snapshot URLs (egress.py)
    fetch_allow_networks: str = Field(
        "", description="comma list of CIDRs fetches may reach beyond public addresses"
    )
    fetch_timeout_s: float = Field(10.0, gt=0)
    fetch_max_redirects: int = Field(3, ge=0)
    fetch_attempts: int = Field(3, gt=0, description="tries per URL on timeouts and 5xx")
    fetch_concurrency: int = Field(8, gt=0)

    # The frame archive of camera-ingest
    ingest_page_size: int = Field(500, ge=1, le=1000)

    # The classifier's /v1/predict/batch limits (CLASSIFIER_MAX_BATCH_ITEMS, ..._BODY_BYTES)
    classifier_max_items: int = Field(32, gt=0)
    classifier_max_body_bytes: int = Field(60 * MIB, gt=0)

    # Workers
    worker_tasks: int = Field(2, ge=0, description="chunks at once in this process; 0: API only")
    consumer_name: str = Field(default_factory=_default_consumer)
    read_block_ms: int = Field(1000, gt=0)
    reclaim_min_idle_s: float = Field(60.0, gt=0, description="a chunk idle this long is taken")
    reclaim_interval_s: float = Field(5.0, gt=0)
    retry_base_s: float = Field(0.2, gt=0)
    retry_max_s: float = Field(10.0, gt=0)
    max_server_errors: int = Field(3, gt=0, description="500s in a row fail those items")
    shutdown_grace_s: float = Field(5.0, ge=0)
    janitor_interval_s: float = Field(60.0, gt=0)
    orphan_grace_s: float = Field(3600.0, gt=0, description="a job folder with no job is removed")

    # Progress
    sse_interval_s: float = Field(1.0, gt=0)
    comparison_max_listed: int = Field(1000, ge=0, description="disagreeing frame ids listed")

    service_name: str = "batch"
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.read_block_ms > 5000:
            raise ValueError("read_block_ms may be at most 5000 (the Redis socket timeout is 10 s)")
        return self
