"""Gateway settings: every variable is `GATEWAY_<FIELD>` (docs/deployment.md, docs/security.md)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.permissions import Kind, Role

MiB = 1024 * 1024


@dataclass(frozen=True)
class Limit:
    """A token bucket: `rate` tokens a second, at most `burst` saved up."""

    rate: float
    burst: int


@dataclass(frozen=True)
class Profile:
    """What a route of one `Kind` may send and how long its upstream may take."""

    max_body_bytes: int
    timeout_s: float
    stream: bool = False  # no read timeout (server-sent events)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    # Redis (db 2, keys under key_prefix): the key store and the shared rate limits.
    redis_url: SecretStr
    key_prefix: str = "gw:"
    redis_timeout_s: float = Field(default=0.5, gt=0)
    # An admin key from settings, for the first start (issue real keys with it, then drop it).
    bootstrap_admin_key: SecretStr | None = None
    # While Redis is down, an issued key this process verified within this many seconds still
    # works (0: every issued key is refused while Redis is down; the bootstrap key always works).
    keys_fallback_s: float = Field(default=600.0, ge=0)
    store_retry_s: float = Field(default=1.0, gt=0)  # after a Redis failure, retry it after this
    # Sign-in sessions (the sw_session cookie): how long one lasts, and whether the cookie is
    # `Secure` (sent over HTTPS only: set it true behind TLS; false lets http://127.0.0.1 work).
    session_ttl_s: int = Field(default=43200, ge=60, le=30 * 86400)
    session_cookie_secure: bool = False

    ingest_url: str = "http://127.0.0.1:8001"
    classifier_url: str = "http://127.0.0.1:8002"
    aggregator_url: str = "http://127.0.0.1:8003"
    batch_url: str = "http://127.0.0.1:8004"

    # Per route kind (permissions.Kind): upstream timeout and request body limit.
    connect_timeout_s: float = Field(default=2.0, gt=0)
    read_timeout_s: float = Field(default=10.0, gt=0)
    json_timeout_s: float = Field(default=10.0, gt=0)
    frame_timeout_s: float = Field(default=15.0, gt=0)
    model_timeout_s: float = Field(default=60.0, gt=0)
    # batch jobs: the answer comes once an archive is saved and expanded (or a replay's frames
    # are listed), so the wait for it is long; the body (BATCH_MAX_UPLOAD_BYTES) is streamed
    upload_timeout_s: float = Field(default=300.0, gt=0)
    max_json_bytes: int = Field(default=1 * MiB, gt=0)
    max_frame_bytes: int = Field(default=10 * MiB, gt=0)
    max_model_bytes: int = Field(default=64 * MiB, gt=0)
    max_upload_bytes: int = Field(default=512 * MiB, gt=0)
    ready_timeout_s: float = Field(default=2.0, gt=0)

    # Retries (idempotent requests, connection errors only) and a breaker per upstream.
    retry_attempts: int = Field(default=1, ge=0)
    retry_backoff_s: float = Field(default=0.05, ge=0)
    breaker_failures: int = Field(default=5, ge=1)
    breaker_reset_s: float = Field(default=10.0, gt=0)

    # Token buckets per key, by role, and per client address (no key, or a key that failed).
    rate_camera_rps: float = Field(default=5.0, gt=0)
    rate_camera_burst: int = Field(default=20, ge=1)
    rate_viewer_rps: float = Field(default=20.0, gt=0)
    rate_viewer_burst: int = Field(default=60, ge=1)
    rate_staff_rps: float = Field(default=20.0, gt=0)
    rate_staff_burst: int = Field(default=60, ge=1)
    rate_admin_rps: float = Field(default=50.0, gt=0)
    rate_admin_burst: int = Field(default=100, ge=1)
    rate_address_rps: float = Field(default=10.0, gt=0)
    rate_address_burst: int = Field(default=40, ge=1)

    openapi_ttl_s: float = Field(default=60.0, ge=0)
    log_level: str = "INFO"

    @field_validator("bootstrap_admin_key")
    @classmethod
    def _empty_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        """compose passes an unset variable as "": that means no bootstrap key."""
        return value if value is not None and value.get_secret_value().strip() else None

    def upstream_urls(self) -> dict[str, str]:
        return {
            "camera-ingest": self.ingest_url.rstrip("/"),
            "classifier": self.classifier_url.rstrip("/"),
            "aggregator": self.aggregator_url.rstrip("/"),
            "batch": self.batch_url.rstrip("/"),
        }

    def profiles(self) -> dict[Kind, Profile]:
        return {
            Kind.READ: Profile(self.max_json_bytes, self.read_timeout_s),
            Kind.STREAM: Profile(self.max_json_bytes, self.read_timeout_s, stream=True),
            Kind.JSON: Profile(self.max_json_bytes, self.json_timeout_s),
            Kind.FRAME: Profile(self.max_frame_bytes, self.frame_timeout_s),
            Kind.MODEL: Profile(self.max_model_bytes, self.model_timeout_s),
            Kind.UPLOAD: Profile(self.max_upload_bytes, self.upload_timeout_s),
        }

    def role_limits(self) -> dict[Role, Limit]:
        return {
            Role.CAMERA: Limit(self.rate_camera_rps, self.rate_camera_burst),
            Role.VIEWER: Limit(self.rate_viewer_rps, self.rate_viewer_burst),
            Role.STAFF: Limit(self.rate_staff_rps, self.rate_staff_burst),
            Role.ADMIN: Limit(self.rate_admin_rps, self.rate_admin_burst),
        }

    def address_limit(self) -> Limit:
        return Limit(self.rate_address_rps, self.rate_address_burst)
