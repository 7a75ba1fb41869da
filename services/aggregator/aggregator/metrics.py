"""The aggregator's own Prometheus metrics: observations by outcome, open event streams.

They share one registry with the kit's per-route HTTP metrics (`shelter_kit.install` is given
`Metrics.registry`); one registry per app, so tests can build many apps in one process.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = r = registry or CollectorRegistry()
        self.observations = Counter(
            "aggregator_observations",
            "Observations received, by outcome (fused, late_fused, late, duplicate)",
            ["outcome"],
            registry=r,
        )
        self.sse_clients = Gauge("aggregator_sse_clients", "Open event streams", registry=r)
