"""The deployment this replica applies, kept in step with Redis, and every change to it.

- `plan(camera)` routes one request from memory (no I/O on the response path).
- `sync()` (every CLASSIFIER_SYNC_INTERVAL_S) reads the deployment and the fleet's counts for
  its rollout, applies a newer generation, rescans the model store, and rolls a failing canary
  back. When Redis does not answer, the last deployment stays in force (also across a restart:
  it is cached in the store dir), `store_status` says so, and changes answer 503.
- `put`, `promote`, `rollback` read the current state, make the new one and store it with a
  compare-and-set on the generation plus a history entry, in one script; then apply it here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from classifier.errors import (
    DeploymentConflict,
    InvalidDeployment,
    NotConfigured,
)
from classifier.metrics import DeploymentMetrics
from classifier.modelstore import write_atomic
from classifier.registry import ModelRegistry
from classifier.stats import VersionStats, canary_verdict
from classifier.store import DeploymentStore, Snapshot
from classifier.strategy import (
    DeploymentSpec,
    DeploymentState,
    Posterior,
    Route,
    Strategy,
    promoted,
    rolled_back,
    route,
)
from shelter_kit.errors import StoreUnavailable

log = logging.getLogger(__name__)
Change = Callable[[DeploymentState], tuple[DeploymentSpec, str | None]]


class _Stale(Exception):
    """An automatic change found the deployment already changed: nothing to do."""


@dataclass
class StoreStatus:
    status: str  # "ok", "unavailable", "not-configured", "not-synced"
    detail: str | None = None
    last_sync_at: float | None = None


class Control:
    def __init__(
        self,
        *,
        registry: ModelRegistry,
        store: DeploymentStore | None,
        metrics: DeploymentMetrics,
        cache: Path | None = None,
        seed: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.registry = registry
        self.store = store
        self.metrics = metrics
        self.cache = cache
        self.rng = random.Random(seed)
        self.clock = clock
        self.snapshot = Snapshot()
        self.store_status = StoreStatus("not-configured" if store is None else "not-synced")
        self._state: DeploymentState | None = self._cached()

    def current(self) -> DeploymentState:
        """The deployment in force (ModelNotFound when none was set and no model exists)."""
        if self._state is None:
            return DeploymentState(spec=DeploymentSpec(primary=self.registry.default_ref()))
        return self._state

    async def fresh(self) -> DeploymentState:
        """The stored deployment (StoreUnavailable when Redis does not answer), else ours."""
        stored = await self.store.load_state() if self.store is not None else None
        return stored or self.current()

    def plan(self, camera: str | None) -> tuple[DeploymentState, Route]:
        state = self.current()
        return state, route(state.spec, camera=camera, rng=self.rng, posteriors=self.posteriors())

    def posteriors(self) -> dict[str, Posterior]:
        return {v: s.posterior for v, s in self.snapshot.stats.items()}

    def rewarded(self, version: str, right: bool) -> None:
        """A reward recorded here counts at once (the next sync brings the fleet's)."""
        stats = self.snapshot.stats.setdefault(version, VersionStats())
        stats.rewarded += 1
        stats.rewards += int(right)

    async def run(self, interval_s: float) -> None:
        while True:
            try:
                await self.sync()
            except Exception:  # the loop must outlive any one bad sync
                log.exception("deployment sync failed")
            await asyncio.sleep(interval_s)

    async def sync(self) -> None:
        self.registry.rescan()
        if self.store is None:
            return
        try:
            stored = await self.store.load_state()
            if stored is not None and stored.generation != self.current().generation:
                self._apply(stored)
            state = self.current()
            self.snapshot = await self.store.snapshot(state.rollout, state.spec.versions())
        except StoreUnavailable as exc:
            if self.store_status.status != "unavailable":
                log.warning("deployment store unavailable, keeping generation %d: %s",
                            self.current().generation, exc)  # fmt: skip
            self._status("unavailable", str(exc))
            return
        self._status("ok", None)
        self._gauges(state)
        await self._judge(state)

    def _status(self, status: str, detail: str | None) -> None:
        last = self.clock() if status == "ok" else self.store_status.last_sync_at
        self.store_status = StoreStatus(status, detail, last)
        self.metrics.store_up.set(1 if status == "ok" else 0)

    async def _judge(self, state: DeploymentState) -> None:
        spec = state.spec
        if spec.strategy is not Strategy.CANARY or spec.candidate is None:
            return
        reason = canary_verdict(
            spec.canary, self.snapshot.stats.get(spec.candidate, VersionStats())
        )
        if reason is None:
            return

        def back(current: DeploymentState) -> tuple[DeploymentSpec, str | None]:
            if current.rollout != state.rollout:  # another replica was quicker
                raise _Stale
            return rolled_back(current)

        with contextlib.suppress(_Stale, StoreUnavailable, DeploymentConflict, InvalidDeployment):
            await self._change(back, action="auto-rollback", by=None, reason=reason)
            self.metrics.rollbacks.inc()
            log.warning("canary %s rolled back: %s", spec.candidate, reason)

    async def put(self, spec: DeploymentSpec, *, by: str | None) -> DeploymentState:
        def replace(current: DeploymentState) -> tuple[DeploymentSpec, str | None]:
            same = spec.primary == current.spec.primary
            return spec, current.previous_primary if same else current.spec.primary

        return await self._change(replace, action="put", by=by)

    async def promote(self, *, by: str | None) -> DeploymentState:
        return await self._change(promoted, action="promote", by=by)

    async def rollback(self, *, by: str | None) -> DeploymentState:
        return await self._change(rolled_back, action="rollback", by=by)

    async def history(self, limit: int) -> list[dict[str, object]]:
        return [json.loads(entry) for entry in await self._store().history(limit)]

    def _store(self) -> DeploymentStore:
        if self.store is None:
            raise NotConfigured("deployment changes need a store: set CLASSIFIER_REDIS_URL")
        return self.store

    async def _change(
        self, make: Change, *, action: str, by: str | None, reason: str | None = None
    ) -> DeploymentState:
        store = self._store()
        for _ in range(3):
            stored = await store.load_state()
            current = stored or self.current().model_copy(update={"generation": 0})
            spec, previous = make(current)
            if (spec, previous) == (current.spec, current.previous_primary):
                return current  # nothing changes: no new generation
            self._check_servable(spec)
            new = current.changed(spec, previous=previous, at=self.clock(), by=by)
            entry = {"generation": new.generation, "at": new.updated_at, "by": by,
                     "action": action, "from": current.spec.model_dump(mode="json"),
                     "to": spec.model_dump(mode="json"), "reason": reason}  # fmt: skip
            if await store.change(current.generation, new, json.dumps(entry)):
                self._apply(new)
                return new
        raise DeploymentConflict("the deployment changed three times during this change; retry")

    def _check_servable(self, spec: DeploymentSpec) -> None:
        for version in spec.versions():
            served = self.registry.find(version)
            if served is None:
                raise InvalidDeployment(f"{version} is not a registered version")
            if not served.ready:
                raise InvalidDeployment(f"{version} is {served.status}, not ready: {served.error}")

    def _apply(self, state: DeploymentState) -> None:
        self._state = state
        self.snapshot = Snapshot()  # the new rollout's counts come with the next sync
        self.metrics.generation.set(state.generation)
        log.info("deployment generation %d applied: %s", state.generation,
                 state.spec.model_dump_json(exclude={"canary", "bandit"}))  # fmt: skip
        if self.cache is not None:
            try:
                write_atomic(self.cache, state.model_dump_json().encode())
            except OSError as exc:
                log.warning("could not cache the deployment in %s: %s", self.cache, exc)

    def _cached(self) -> DeploymentState | None:
        if self.cache is None or not self.cache.is_file():
            return None
        try:
            return DeploymentState.model_validate_json(self.cache.read_bytes())
        except ValueError as exc:
            log.warning("ignoring the cached deployment %s: %s", self.cache, exc)
            return None

    def _gauges(self, state: DeploymentState) -> None:
        m, stats = self.metrics, self.snapshot.stats
        total = sum(s.requests for v, s in stats.items() if v in state.spec.versions())
        for gauge in (m.share, m.agreement, m.accuracy):
            gauge.clear()
        for version in state.spec.versions():
            labels = version.split("/", 1)
            s = stats.get(version, VersionStats())
            if total and state.spec.strategy is not Strategy.SHADOW:
                m.share.labels(*labels).set(s.requests / total)
            if s.agreement is not None:
                m.agreement.labels(*labels).set(s.agreement)
            n, right = self.snapshot.totals.get(version, (0, 0))
            if n:
                m.accuracy.labels(*labels).set(right / n)
