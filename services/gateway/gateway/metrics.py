"""The gateway's domain metrics, on the same registry as shelter-kit's HTTP metrics.

The kit counts every request by public prefix (`http_requests_total{route="/api/v1/spaces"}`:
the proxy names its route in `scope["state"]["route"]`). What only the gateway knows is how each
upstream answered, so that a 503 the aggregator sent is told apart from a 502 the gateway made:

- `gateway_upstream_requests_total{upstream,outcome}`: outcome is the upstream's status class
  (`2xx`..`5xx`) or `unreachable` / `timeout` when it gave no answer.
- `gateway_upstream_seconds{upstream}`: time until the upstream's status line and headers.

Three upstreams times six outcomes: the label space stays small.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

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

    def observe(self, upstream: str, outcome: str, seconds: float) -> None:
        self.requests.labels(upstream, outcome).inc()
        self.latency.labels(upstream).observe(seconds)
