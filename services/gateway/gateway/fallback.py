"""What the gateway does while Redis is down: it keeps serving, and says so.

`StoreHealth` is the one place that knows whether Redis answered lately. Every Redis call of the
key store and the rate limiter goes through `StoreHealth.call`: after a failure, Redis is left
alone for `retry_s` (calls fail at once instead of each waiting for a connect timeout), then the
next call tries it again. Meanwhile:

- rate limits are per process (`ratelimit.MemoryBuckets`, the same token bucket), so N replicas
  together allow up to N times a key's budget;
- an issued key this process verified within `keys_fallback_s` is still accepted from its
  last-known record (expiry still checked); any other issued key is a 503, never a 401; the
  bootstrap key works as always;
- key administration (issue, list, rotate, revoke) answers 503.

`/readyz` stays 200 (orchestrators keep routing) with the check `redis` reading
`degraded: <why>`; the gauge `gateway_redis_degraded` is 1 and `gateway_fallback_total{part}`
counts the decisions taken without Redis.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from gateway.metrics import GatewayMetrics
from shelter_kit.errors import StoreUnavailable

T = TypeVar("T")
log = logging.getLogger(__name__)


class StoreHealth:
    def __init__(
        self,
        *,
        retry_s: float,
        metrics: GatewayMetrics,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._retry_s = retry_s
        self._metrics = metrics
        self._clock = clock
        self._down: tuple[float, str] | None = None  # (when it last failed, why)

    @property
    def reason(self) -> str | None:
        """None while Redis answers, else why the gateway runs on its fallback."""
        return self._down[1] if self._down else None

    def usable(self) -> bool:
        return self._down is None or self._clock() - self._down[0] >= self._retry_s

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """`fn()` against Redis; StoreUnavailable at once while Redis is being left alone."""
        if not self.usable():
            raise StoreUnavailable(f"redis unavailable: {self.reason}")
        try:
            result = await fn()
        except StoreUnavailable as exc:
            self._failed(exc)
            raise
        self._recovered()
        return result

    async def check(self, probe: Callable[[], Awaitable[None]]) -> str:
        """The readiness check's value: `ok`, or `degraded: <why> (...)` (never a failure)."""
        if self.usable():
            with contextlib.suppress(StoreUnavailable):
                await self.call(probe)
        if self.reason is None:
            return "ok"
        return f"degraded: {self.reason} (rate limits per process, keys from memory)"

    def fallback(self, part: str) -> None:
        """Count one decision taken without Redis (`part`: limits, keys)."""
        self._metrics.fallback.labels(part).inc()

    def _failed(self, exc: StoreUnavailable) -> None:
        why = str(exc).split(":", 2)[1].strip() if ":" in str(exc) else str(exc)
        if self._down is None:
            log.warning("redis unavailable (%s): rate limits per process, keys from memory", why)
        self._down = (self._clock(), why)
        self._metrics.degraded.set(1)

    def _recovered(self) -> None:
        if self._down is not None:
            log.info("redis answers again: shared rate limits and the key store are back")
        self._down = None
        self._metrics.degraded.set(0)
