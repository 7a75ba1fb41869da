"""What one run of a version costs and says, counted twice: in this replica's Prometheus
metrics at once, and (off the response path, through the `Recorder`) in the fleet's counts in
Redis that the deployment view and the canary's verdict read."""

from __future__ import annotations

from classifier.metrics import DeploymentMetrics
from classifier.recorder import Recorder
from classifier.records import Comparison, Event, Outcome
from classifier.served import ServedModel


class Meter:
    def __init__(self, metrics: DeploymentMetrics, recorder: Recorder | None) -> None:
        self.metrics = metrics
        self.recorder = recorder

    def outcome(
        self, rollout: int | None, served: ServedModel, role: str, seconds: float, *, error: bool
    ) -> None:
        labels = (*served.labels, role)
        self.metrics.requests.labels(*labels).inc()
        if error:
            self.metrics.errors.labels(*labels).inc()
        else:
            self.metrics.latency.labels(*labels).observe(seconds)
        self.record(Outcome(served.ref, rollout, seconds, error))

    def comparison(self, event: Comparison) -> None:
        outcome = "agree" if event.primary_label == event.candidate_label else "disagree"
        self.metrics.comparisons.labels(*event.candidate.split("/", 1), outcome).inc()
        self.record(event)

    def shed(self, queue: str) -> None:
        self.metrics.shed.labels(queue).inc()

    def record(self, event: Event) -> None:
        if self.recorder is not None:
            self.recorder.offer(event)
