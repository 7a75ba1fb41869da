"""The one module that imports redis: the deployment store, in the classifier's own keyspace.

The client (reconnect once, never retry a timeout) and the translation of Redis failures into
`StoreUnavailable` (503) are shelter-kit's. Key layout (prefix `clf:`):

| key                          | type   | holds                                               |
|------------------------------|--------|-----------------------------------------------------|
| `clf:deployment`             | string | the DeploymentState JSON (generation, rollout, spec)|
| `clf:history`                | list   | change entries, newest first, HISTORY_KEPT of them  |
| `clf:pred:<prediction id>`   | hash   | a PredictionRecord; TTL = the retention             |
| `clf:preds`                  | zset   | prediction ids by time, capped (the index)          |
| `clf:fb:<prediction id>`     | hash   | its feedback (label, version, at, by); same TTL     |
| `clf:totals:<name/version>`  | hash   | all feedback of a version: `n`, `ok`                |
| `clf:stats:<rollout>:<n/v>`  | hash   | a version's counts in one rollout (see stats.py)    |
| `clf:disagree:<rollout>`     | list   | the latest ids the candidate disagreed on           |

Every state change is one Lua script (`store_scripts`); the traffic counts are pipelined
HINCRBYs, written off the response path by the `Recorder`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis as Redis  # re-exported for wiring's type

from classifier.records import (
    Comparison,
    Event,
    FeedbackOutcome,
    Outcome,
    PredictionRecord,
)
from classifier.stats import VersionStats, latency_field
from classifier.store_scripts import CHANGE, FEEDBACK
from classifier.strategy import DeploymentState
from shelter_kit.store import connect as kit_connect
from shelter_kit.store import translated

P = "clf:"
DEPLOYMENT, HISTORY, INDEX = P + "deployment", P + "history", P + "preds"
HISTORY_KEPT = 1000
DISAGREEMENTS_KEPT = 50
STATS_TTL_S = 30 * 86400


def connect(url: str) -> Redis:
    return kit_connect(url, timeout_s=2.0, decode_responses=True)


def _stats(rollout: int | None, version: str) -> str:
    return f"{P}stats:{rollout}:{version}"


@dataclass
class Snapshot:
    """The fleet's counts for one rollout, read in one round trip."""

    stats: dict[str, VersionStats] = field(default_factory=dict)
    totals: dict[str, tuple[int, int]] = field(default_factory=dict)  # feedback n, right
    disagreements: list[str] = field(default_factory=list)


class DeploymentStore:
    def __init__(self, redis: Redis, *, retention_s: int, max_predictions: int) -> None:
        self.redis = redis
        self.retention_s = retention_s
        self.max_predictions = max_predictions
        self._change = redis.register_script(CHANGE)
        self._feedback = redis.register_script(FEEDBACK)

    @translated
    async def load_state(self) -> DeploymentState | None:
        raw = await self.redis.get(DEPLOYMENT)
        return None if raw is None else DeploymentState.model_validate_json(raw)

    @translated
    async def change(self, expected: int, state: DeploymentState, entry: str) -> bool:
        """Store `state` and its history entry, if the generation is still `expected`."""
        args: list[str | int] = [expected, state.model_dump_json(), entry, HISTORY_KEPT]
        return bool(await self._change(keys=[DEPLOYMENT, HISTORY], args=args))

    @translated
    async def history(self, limit: int) -> list[str]:
        return [str(e) for e in await self.redis.lrange(HISTORY, 0, limit - 1)]

    @translated
    async def snapshot(self, rollout: int, versions: list[str]) -> Snapshot:
        pipe = self.redis.pipeline(transaction=False)
        for version in versions:
            pipe.hgetall(_stats(rollout, version))
        for version in versions:
            pipe.hgetall(f"{P}totals:{version}")
        pipe.lrange(f"{P}disagree:{rollout}", 0, DISAGREEMENTS_KEPT - 1)
        replies: list[Any] = await pipe.execute()
        count = len(versions)
        snap = Snapshot(disagreements=list(replies[-1]))
        for version, stats, totals in zip(
            versions, replies[:count], replies[count : 2 * count], strict=True
        ):
            snap.stats[version] = VersionStats.from_fields(stats)
            snap.totals[version] = (int(totals.get("n", 0)), int(totals.get("ok", 0)))
        return snap

    @translated
    async def write(self, events: list[Event], *, now: float) -> None:
        """Traffic counts and prediction records, in one pipeline."""
        pipe = self.redis.pipeline(transaction=False)
        logged = False
        for event in events:
            if isinstance(event, Outcome) and event.rollout is not None:
                key = _stats(event.rollout, event.version)
                pipe.hincrby(key, "n", 1)
                pipe.hincrby(key, "err" if event.error else latency_field(event.seconds), 1)
                pipe.expire(key, STATS_TTL_S)
            elif isinstance(event, Comparison):
                self._compare(pipe, event)
            elif isinstance(event, PredictionRecord):
                key = f"{P}pred:{event.prediction_id}"
                pipe.hset(key, mapping=event.fields())  # type: ignore[arg-type]
                pipe.expire(key, self.retention_s)
                pipe.zadd(INDEX, {event.prediction_id: event.at})
                logged = True
        if logged:  # the index: capped, and nothing older than the retention
            pipe.zremrangebyrank(INDEX, 0, -(self.max_predictions + 1))
            pipe.zremrangebyscore(INDEX, "-inf", now - self.retention_s)
        await pipe.execute()

    @staticmethod
    def _compare(pipe: Any, event: Comparison) -> None:
        key = _stats(event.rollout, event.candidate)
        pipe.hincrby(key, "cmp", 1)
        pipe.hincrby(key, f"cf:{event.primary_label}:{event.candidate_label}", 1)
        if event.primary_label == event.candidate_label:
            pipe.hincrby(key, "agree", 1)
        elif event.prediction_id is not None:
            disagree = f"{P}disagree:{event.rollout}"
            pipe.lpush(disagree, event.prediction_id)
            pipe.ltrim(disagree, 0, DISAGREEMENTS_KEPT - 1)
            pipe.expire(disagree, STATS_TTL_S)
        pipe.expire(key, STATS_TTL_S)

    @translated
    async def prediction(self, prediction_id: str) -> PredictionRecord | None:
        raw = await self.redis.hgetall(f"{P}pred:{prediction_id}")
        fields = {str(k): str(v) for k, v in raw.items()}
        return PredictionRecord.from_fields(fields) if fields else None

    @translated
    async def add_feedback(
        self, record: PredictionRecord, *, label: str, rewarded: bool, at: float, by: str | None
    ) -> FeedbackOutcome:
        """Store the feedback once per prediction id (see store_scripts.FEEDBACK)."""
        pid, version = record.prediction_id, record.version
        correct = int(label == record.label)
        stored = {"label": label, "version": version, "predicted": record.label, "at": at}
        if by is not None:
            stored["by"] = by
        pairs = [str(item) for pair in stored.items() for item in pair]
        keys = [
            f"{P}pred:{pid}",
            f"{P}fb:{pid}",
            f"{P}totals:{version}",
            _stats(record.rollout, version),
        ]
        args: list[str | int] = [label, correct, int(rewarded), self.retention_s, *pairs]
        status, label_stored = await self._feedback(keys=keys, args=args)
        return FeedbackOutcome(status=str(status), label=str(label_stored))
