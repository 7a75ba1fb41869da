"""Settings for the classifier service, read from `CLASSIFIER_*` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

MIB = 1024 * 1024


class Settings(BaseSettings):
    """Every knob of the service; each field is `CLASSIFIER_<NAME>` in the environment."""

    model_config = SettingsConfigDict(env_prefix="CLASSIFIER_", extra="ignore")

    model_dir: Path = Path("build/models")
    default_model: str | None = None
    """Model served when a request names none; None means the first model found."""

    max_body_bytes: int = Field(default=10 * MIB, gt=0)
    """Largest body of a one-image request (raw bytes or multipart)."""
    max_batch_body_bytes: int = Field(default=64 * MIB, gt=0)
    """Largest body of a multipart batch or a /v2 infer request."""
    max_pixels: int = Field(default=40_000_000, gt=0)
    """Largest decoded image (width x height): a guard against decompression bombs."""
    max_batch_items: int = Field(default=32, gt=0)
    """Most images in one `POST /v1/predict/batch`."""

    max_batch_size: int = Field(default=2, gt=0)
    """Most images the micro-batcher runs through the model at once."""
    max_wait_ms: float = Field(default=0.0, ge=0)
    """How long a batch waits for more images; 0 = batch only what already waits."""
    max_queue: int = Field(default=256, gt=0)
    """Images waiting for the model beyond which requests get 503 + Retry-After."""
    inference_workers: int = Field(default=2, gt=0)
    """Inference threads per model: each decodes its batch's images, then runs the batch, in
    the model's one ORT session (several batches at once)."""
    intra_op_threads: int = Field(default=2, gt=0)
    """ONNX Runtime threads per session, shared by the batches running on it: a lone batch
    gets all of them (one request in flight uses both cores), two batches share them (one
    core each). Set it to the cores the process may use (docs/benchmarks.md has the A/B)."""
    inter_op_threads: int = Field(default=1, gt=0)
    other_threshold: float | None = Field(default=None, ge=0, le=1)
    """Overrides the `other` threshold that the model's metadata carries."""

    redis_url: str | None = None
    """The deployment store (the classifier's own keyspace, keys `clf:*`; `make run`: db 3).
    None: the default model serves alone, and deployment changes and feedback answer 503."""
    store_dir: Path | None = None
    """Where uploaded versions are kept (content-addressed); None: uploads answer 503."""
    max_model_bytes: int = Field(default=256 * MIB, gt=0)
    """Largest ONNX file an upload may bring."""
    sync_interval_s: float = Field(default=1.0, gt=0)
    """How often each replica reads the deployment (and the fleet's counts) from Redis."""
    routing_seed: int | None = None
    """Seeds the routing draws (canary share, shadow share, bandit); None: a random seed."""
    prediction_retention_s: int = Field(default=7 * 86400, gt=0)
    """How long a prediction is kept for feedback and comparisons (its Redis TTL)."""
    prediction_log_max: int = Field(default=200_000, gt=0)
    """Most predictions in the index (the oldest are dropped first)."""
    record_queue: int = Field(default=10_000, gt=0)
    """Traffic records waiting for Redis beyond which new ones are shed (never waited for)."""
    shadow_queue: int = Field(default=32, gt=0)
    """Shadow and compare runs waiting beyond which new ones are shed."""
    shadow_workers: int = Field(default=1, gt=0)
    """Shadow and compare runs at the same time."""
    shadow_timeout_s: float = Field(default=5.0, gt=0)
    """A shadow or compare run taking longer counts as the candidate's error."""

    log_level: str = "INFO"
