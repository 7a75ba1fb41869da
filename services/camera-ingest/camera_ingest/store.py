"""The one module that imports redis: the client, and Redis errors turned into StoreUnavailable."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from camera_ingest.errors import StoreUnavailable

__all__ = ["Redis", "ResponseError", "connect", "translated"]

P = ParamSpec("P")
T = TypeVar("T")


def connect(url: str) -> Redis:
    """After a Redis restart every pooled connection is stale and fails once: those are retried
    on a fresh connection instead of surfacing as a 503 (timeouts are not: it may have run)."""
    return Redis.from_url(
        url,
        socket_connect_timeout=2,
        socket_timeout=5,
        health_check_interval=30,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 2),
        retry_on_error=[RedisConnectionError],
    )


def translated(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Redis connection and timeout errors become StoreUnavailable (503 at the API)."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await fn(*args, **kwargs)
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise StoreUnavailable(f"redis unavailable: {exc}") from exc

    return wrapper
