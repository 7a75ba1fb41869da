"""Rate limits shared by every gateway replica: one token bucket per key id and one per client
address, kept in Redis (`store.TAKE`), with a per-process bucket while Redis is down.

A bucket holds at most `burst` tokens and refills at `rate` a second; a request takes one. Keys
are limited per role (`GATEWAY_RATE_<ROLE>_RPS` / `_BURST`); an address is charged for every
request without a key and every key that fails to verify, and an address whose bucket is empty
is refused before its key is even looked up (so guessing is capped at the address's rate).
Buckets are named by key id (`key:key_0123...`), never by a label two keys could share.

Why a Lua token bucket of our own and not the `limits` library (with its Redis storage):
- `limits` offers fixed window (lets 2x the limit through across a window boundary), moving
  window (one Redis list entry per request: a burst of 100 is 100 entries per key) and a
  sliding-window counter (an approximation). None is a token bucket, which is what our settings
  say: a sustained rate plus a burst a camera or a dashboard may use at once.
- One EVALSHA per request, atomic, timed by Redis's own clock (`TIME`): replicas whose clocks
  differ still agree. The script returns the exact wait, so the 429's Retry-After is exact;
  `limits` reports a window's reset time instead.
- The per-process fallback is the very same bucket in 20 lines of Python (`MemoryBuckets`), so
  a limit means the same with and without Redis.
- No second Redis client: `limits` brings its own storage connection with its own pool, retry
  and error rules, beside the kit's client (reconnect once, never retry a timeout, errors as
  StoreUnavailable) that the key store already uses.
The cost is ~20 lines of Lua, tested against a real redis-server (tests/gateway/test_limits.py).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from gateway.config import Limit
from gateway.errors import RateLimited
from gateway.fallback import StoreHealth
from shelter_kit.errors import StoreUnavailable


class BucketStore(Protocol):
    def take(self, bucket: str, limit: Limit, *, cost: int) -> Awaitable[tuple[bool, float]]: ...


@dataclass
class _Bucket:
    tokens: float
    updated: float


class MemoryBuckets:
    """The same token bucket in this process only (the fallback, and a BucketStore itself)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, max_buckets: int = 100_000):
        self._clock = clock
        self._max = max_buckets
        self._buckets: dict[str, _Bucket] = {}

    async def take(self, bucket: str, limit: Limit, *, cost: int) -> tuple[bool, float]:
        now = self._clock()
        if bucket not in self._buckets and len(self._buckets) >= self._max:
            self._buckets.clear()  # a flood of new addresses: forget them all, start again
        state = self._buckets.setdefault(bucket, _Bucket(float(limit.burst), now))
        state.tokens = min(limit.burst, state.tokens + (now - state.updated) * limit.rate)
        state.updated = now
        if state.tokens < 1.0:
            return False, (1.0 - state.tokens) / limit.rate
        state.tokens -= cost
        return True, state.tokens


class Limiter:
    """`take` spends a token, `check` only looks; both raise RateLimited with the exact wait."""

    def __init__(self, store: BucketStore, health: StoreHealth, memory: MemoryBuckets) -> None:
        self._store = store
        self._health = health
        self._memory = memory

    async def take(self, bucket: str, limit: Limit) -> None:
        await self._spend(bucket, limit, cost=1)

    async def check(self, bucket: str, limit: Limit) -> None:
        await self._spend(bucket, limit, cost=0)

    async def _spend(self, bucket: str, limit: Limit, *, cost: int) -> None:
        try:
            allowed, value = await self._health.call(
                lambda: self._store.take(bucket, limit, cost=cost)
            )
        except StoreUnavailable:
            self._health.fallback("limits")
            allowed, value = await self._memory.take(bucket, limit, cost=cost)
        if not allowed:
            raise RateLimited(wait_s=value)


def key_bucket(key_id: str) -> str:
    return f"key:{key_id}"


def address_bucket(address: str) -> str:
    return f"addr:{address}"
