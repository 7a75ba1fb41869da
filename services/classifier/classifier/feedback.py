"""Feedback: a person says what a prediction should have been.

Joined to the logged prediction by its id (so it counts for the version that made it, however
late it comes, within the retention), recorded once per prediction id: the same label again is
a duplicate (200), another label a conflict (409). It feeds the version's accuracy and, when it
comes within the bandit's reward window of its prediction, the bandit's Beta posterior.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from classifier.control import Control
from classifier.errors import FeedbackConflict, NotConfigured, PredictionNotFound
from classifier.metrics import DeploymentMetrics
from classifier.recorder import Recorder
from classifier.records import PredictionRecord
from classifier.store import DeploymentStore
from classifier.strategy import Strategy

PENDING_WAIT_S = 2.0  # how long to wait for this replica's unwritten records before a 404


@dataclass(frozen=True)
class FeedbackResult:
    prediction: PredictionRecord
    label: str
    correct: bool
    rewarded: bool
    duplicate: bool


class FeedbackDesk:
    def __init__(
        self,
        *,
        store: DeploymentStore | None,
        recorder: Recorder | None,
        control: Control,
        metrics: DeploymentMetrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.recorder = recorder
        self.control = control
        self.metrics = metrics
        self.clock = clock

    async def give(self, prediction_id: str, label: str, *, by: str | None) -> FeedbackResult:
        if self.store is None:
            raise NotConfigured("feedback needs the prediction log: set CLASSIFIER_REDIS_URL")
        record = await self._find(self.store, prediction_id)
        now = self.clock()
        rewarded = self._rewards(record, now)
        outcome = await self.store.add_feedback(
            record, label=label, rewarded=rewarded, at=now, by=by
        )
        if outcome.status == "gone":
            raise PredictionNotFound(f"prediction {prediction_id} expired meanwhile")
        if outcome.status == "conflict":
            raise FeedbackConflict(
                f"prediction {prediction_id} has feedback {outcome.label!r} already, not {label!r}"
            )
        duplicate = outcome.status == "same"
        right = label == record.label
        if not duplicate:
            name, version = record.version.split("/", 1)
            self.metrics.feedback.labels(name, version, "right" if right else "wrong").inc()
            if rewarded:
                self.control.rewarded(record.version, right)
        return FeedbackResult(record, label, right, rewarded and not duplicate, duplicate)

    async def _find(self, store: DeploymentStore, prediction_id: str) -> PredictionRecord:
        record = await store.prediction(prediction_id)
        if record is None and self.recorder is not None:  # it may still wait to be written here
            await self.recorder.drained(PENDING_WAIT_S)
            record = await store.prediction(prediction_id)
        if record is None:
            raise PredictionNotFound(
                f"no prediction {prediction_id} in the log (unknown, or older than the retention)"
            )
        return record

    def _rewards(self, record: PredictionRecord, now: float) -> bool:
        """A bandit reward: its prediction was routed by this bandit rollout, within the window."""
        state = self.control.current()
        if state.spec.strategy is not Strategy.BANDIT or record.rollout != state.rollout:
            return False
        return now - record.at <= state.spec.bandit.reward_window_s
