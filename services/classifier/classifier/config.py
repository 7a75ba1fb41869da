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

    max_batch_size: int = Field(default=4, gt=0)
    """Most images the micro-batcher runs through the model at once."""
    max_wait_ms: float = Field(default=0.0, ge=0)
    """How long a batch waits for more images; 0 = batch only what already waits."""
    max_queue: int = Field(default=256, gt=0)
    """Images waiting for the model beyond which requests get 503 + Retry-After."""
    inference_workers: int = Field(default=2, gt=0)
    """Batches run at the same time (each on its own thread, in one shared ORT session)."""
    intra_op_threads: int = Field(default=1, gt=0)
    inter_op_threads: int = Field(default=1, gt=0)
    worker_threads: int = Field(default=4, gt=0)
    """Threads that decode and preprocess images, off the event loop."""
    other_threshold: float | None = Field(default=None, ge=0, le=1)
    """Overrides the `other` threshold that the model's metadata carries."""

    log_level: str = "INFO"
