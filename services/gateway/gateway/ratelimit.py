"""Per-key rate limits behind a small interface (`RateLimiter`), so a Redis-backed limiter
(db 2, keys `gw:*`) can replace the in-memory token bucket later."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from gateway.errors import RateLimited


class RateLimiter(Protocol):
    async def acquire(self, key: str) -> None:
        """Take one token for `key`; raises RateLimited (with the wait) when none is left."""
        ...


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBucketLimiter:
    """In-memory token bucket per key: `rate` tokens per second, at most `burst` stored."""

    def __init__(
        self, *, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    async def acquire(self, key: str) -> None:
        now = self._clock()
        bucket = self._buckets.setdefault(key, _Bucket(tokens=self._burst, updated=now))
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.updated) * self._rate)
        bucket.updated = now
        if bucket.tokens < 1.0:
            raise RateLimited(wait_s=(1.0 - bucket.tokens) / self._rate)
        bucket.tokens -= 1.0
