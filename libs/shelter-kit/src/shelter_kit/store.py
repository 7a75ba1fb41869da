"""The Redis client every service with a keyspace uses, and Redis errors as `StoreUnavailable`.

The reconnect-once rule: after a Redis restart every pooled connection is stale and fails once
with a connection error; that call is retried ONCE on a fresh connection instead of answering
503. A timeout is never retried (the command may have run, and a stalled Redis must give a
prompt 503, not a hang twice as long). redis-py's default `Retry` retries timeouts too, so the
retry's `supported_errors` is narrowed explicitly.

`translated` turns Redis failures into `StoreUnavailable` (503 + Retry-After at the API):
connection errors, timeouts, OS errors, and the replies that mean "cannot serve now" (LOADING,
READONLY, MISCONF, OOM, BUSY, MASTERDOWN, TRYAGAIN). Any other `ResponseError` is a bug in our
commands or scripts and propagates (a 500 with the request id).
"""

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

from shelter_kit.errors import StoreUnavailable

P = ParamSpec("P")
T = TypeVar("T")

_UNAVAILABLE_REPLIES = (
    "LOADING",
    "READONLY",
    "MISCONF",
    "OOM",
    "BUSY",
    "MASTERDOWN",
    "TRYAGAIN",
    "NOREPLICAS",
)


def connect(
    url: str,
    *,
    timeout_s: float = 2.0,
    connect_timeout_s: float | None = None,
    decode_responses: bool = False,
    health_check_interval_s: int = 30,
) -> Redis:
    """A client whose stale pooled connections are retried once on a fresh one."""
    retry = Retry(
        ExponentialBackoff(cap=0.2, base=0.02), 1, supported_errors=(RedisConnectionError,)
    )
    return Redis.from_url(
        url,
        decode_responses=decode_responses,
        socket_timeout=timeout_s,
        socket_connect_timeout=connect_timeout_s or timeout_s,
        health_check_interval=health_check_interval_s,
        retry=retry,
        retry_on_timeout=False,
    )


def unavailable(exc: BaseException) -> StoreUnavailable | None:
    """The StoreUnavailable an exception means, or None when it is not an availability error."""
    if isinstance(exc, RedisConnectionError | RedisTimeoutError | OSError):
        return StoreUnavailable(f"redis unavailable: {type(exc).__name__}: {exc}")
    if isinstance(exc, ResponseError) and str(exc).split(" ", 1)[0] in _UNAVAILABLE_REPLIES:
        return StoreUnavailable(f"redis cannot serve now: {exc}")
    return None


def translated(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Decorator: availability errors of Redis become StoreUnavailable."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await fn(*args, **kwargs)
        except StoreUnavailable:
            raise
        except Exception as exc:
            mapped = unavailable(exc)
            if mapped is None:
                raise
            raise mapped from exc

    return wrapper


async def ping(client: Redis) -> str | None:
    """A readiness check: None when Redis answers, else the reason."""
    try:
        await client.ping()
    except Exception as exc:
        return f"redis: {type(exc).__name__}"
    return None
