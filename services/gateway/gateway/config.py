"""Gateway settings: every variable is `GATEWAY_<FIELD>` (see docs/deployment.md)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    # `name:key:scope1+scope2` entries, comma separated; scopes: read, write, camera, admin.
    api_keys: SecretStr

    ingest_url: str = "http://127.0.0.1:8001"
    classifier_url: str = "http://127.0.0.1:8002"
    aggregator_url: str = "http://127.0.0.1:8003"

    connect_timeout_s: float = Field(default=2.0, gt=0)
    ingest_timeout_s: float = Field(default=10.0, gt=0)
    classifier_timeout_s: float = Field(default=10.0, gt=0)
    aggregator_timeout_s: float = Field(default=10.0, gt=0)
    ready_timeout_s: float = Field(default=2.0, gt=0)

    max_body_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    rate_limit_rps: float = Field(default=50.0, gt=0)
    rate_limit_burst: int = Field(default=100, ge=1)
    openapi_ttl_s: float = Field(default=60.0, ge=0)

    # Reserved for a Redis-backed rate limiter (db 2, keys `gw:*`); unused while it is in memory.
    redis_url: str | None = None
    log_level: str = "INFO"

    def upstream_urls(self) -> dict[str, str]:
        return {
            "camera-ingest": self.ingest_url.rstrip("/"),
            "classifier": self.classifier_url.rstrip("/"),
            "aggregator": self.aggregator_url.rstrip("/"),
        }

    def upstream_timeouts(self) -> dict[str, float]:
        return {
            "camera-ingest": self.ingest_timeout_s,
            "classifier": self.classifier_timeout_s,
            "aggregator": self.aggregator_timeout_s,
        }
