"""The gateway's domain metrics, on the same registry as shelter-kit's HTTP metrics.

The kit counts every request by public prefix (`http_requests_total{route="/api/v1/spaces"}`:
the proxy names its route in `scope["state"]["route"]`). What only the gateway knows:

- `gateway_upstream_requests_total{upstream,outcome}`: outcome is the upstream's status class
  (`2xx`..`5xx`), `unreachable` / `timeout` when it gave no answer, or `circuit_open` when the
  breaker refused to try (one count per attempt, so a retried request counts twice).
- `gateway_upstream_seconds{upstream}`: time until the upstream's status line and headers.
- `gateway_breaker_open{upstream}`: 1 while the upstream's circuit breaker is open.
- `gateway_rejections_total{reason}`: requests refused at the door: `missing_key`,
  `unknown_key`, `expired_key`, `forbidden`, `method_not_allowed`, `rate_limited_key`,
  `rate_limited_address`.
- `gateway_redis_degraded`: 1 while Redis is down and the gateway runs on its fallback;
  `gateway_fallback_total{part}`: decisions taken without Redis (`limits`, `keys`).

Every label takes a handful of values: the label space stays small.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from shelter_kit.metrics import LATENCY_BUCKETS


def outcome_of(status: int) -> str:
    return f"{status // 100}xx"


class UpstreamMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "gateway_upstream_requests",
            "Proxied requests by upstream and outcome (status class, unreachable, timeout).",
            ["upstream", "outcome"],
            registry=registry,
        )
        self.latency = Histogram(
            "gateway_upstream_seconds",
            "Time until the upstream's status and headers arrived (or it failed), by upstream.",
            ["upstream"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.breaker_open = Gauge(
            "gateway_breaker_open",
            "1 while the upstream's circuit breaker is open.",
            ["upstream"],
            registry=registry,
        )

    def observe(self, upstream: str, outcome: str, seconds: float) -> None:
        self.requests.labels(upstream, outcome).inc()
        self.latency.labels(upstream).observe(seconds)


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.upstream = UpstreamMetrics(registry)
        self.rejections = Counter(
            "gateway_rejections",
            "Requests refused at the door, by reason.",
            ["reason"],
            registry=registry,
        )
        self.degraded = Gauge(
            "gateway_redis_degraded",
            "1 while Redis is down: per-process rate limits, keys from memory.",
            registry=registry,
        )
        self.fallback = Counter(
            "gateway_fallback",
            "Decisions taken without Redis, by part (limits, keys).",
            ["part"],
            registry=registry,
        )
