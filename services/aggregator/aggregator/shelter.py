"""The wired parts every use case needs, built once by `main.create_app` (tests build their own)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from aggregator.alerts import AlertParams
from aggregator.config import Settings
from aggregator.fusion import FusionParams
from aggregator.metrics import Metrics
from aggregator.store import Store

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Shelter:
    store: Store
    settings: Settings
    fusion: FusionParams
    alerting: AlertParams
    metrics: Metrics
    clock: Clock = utc_now


def build_shelter(settings: Settings, *, metrics: Metrics, clock: Clock = utc_now) -> Shelter:
    store = Store(
        url=settings.redis_url,
        prefix=settings.key_prefix,
        timeout_s=settings.redis_timeout_s,
        retries=settings.watch_retries,
        events_maxlen=settings.events_maxlen,
    )
    fusion = FusionParams(
        half_life_s=settings.half_life_s,
        enter_threshold=settings.enter_threshold,
        leave_threshold=settings.leave_threshold,
        min_run=settings.min_run,
        min_weight=settings.min_weight,
        prob_floor=settings.prob_floor,
        max_margin=settings.max_margin,
        late_tolerance_s=settings.late_tolerance_s,
        stale_after_s=settings.stale_after_s,
    )
    alerting = AlertParams(
        mismatch_confidence=settings.mismatch_confidence,
        mismatch_after_s=settings.mismatch_after_s,
        not_seen_after_s=settings.not_seen_after_s,
        stale_after_s=settings.stale_after_s,
        adopted_occupied_after_s=settings.adopted_occupied_after_s,
    )
    return Shelter(
        store=store,
        settings=settings,
        fusion=fusion,
        alerting=alerting,
        metrics=metrics,
        clock=clock,
    )
