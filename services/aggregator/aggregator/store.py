"""Everything the aggregator keeps, in Redis (its own db and `agg:` keys). The only redis importer.

Every change is one optimistic transaction (WATCH the keys read, compute in Python, MULTI/EXEC the
writes, retry on conflict), so concurrent writers never lose an update, and the event that
describes a change is appended to the capped stream inside the same transaction.
"""

from __future__ import annotations

import asyncio
import functools
import json
import random
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar, cast

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, WatchError

from aggregator.errors import AggregatorError, StoreContention, StoreUnavailable

P = ParamSpec("P")
T = TypeVar("T")
Json = dict[str, Any]


@dataclass(frozen=True)
class Put:
    key: str
    value: Json
    ttl_s: int | None = None


@dataclass(frozen=True)
class HashPut:
    key: str
    field: str
    value: Json


@dataclass(frozen=True)
class HashDel:
    key: str
    field: str


@dataclass(frozen=True)
class ListPush:
    """Prepend to a list capped at `cap` entries (newest first)."""

    key: str
    value: Json
    cap: int


@dataclass(frozen=True)
class SetAdd:
    key: str
    member: str


@dataclass(frozen=True)
class Emit:
    """Append an event to the capped stream that feeds `GET /v1/events`."""

    type: str
    data: Json


Op = Put | HashPut | HashDel | ListPush | SetAdd | Emit


class Reader:
    """Reads inside a transaction step: every key read is WATCHed."""

    def __init__(self, pipe: Pipeline) -> None:
        self._pipe = pipe

    async def json(self, key: str) -> Json | None:
        await self._pipe.watch(key)
        raw = await self._pipe.get(key)
        return None if raw is None else dict(json.loads(raw))

    async def hash_json(self, key: str) -> dict[str, Json]:
        await self._pipe.watch(key)
        raw: dict[str, str] = await self._pipe.hgetall(key)  # type: ignore[assignment]
        return {field: dict(json.loads(value)) for field, value in raw.items()}


Step = Callable[[Reader], Awaitable[tuple[T, list[Op]]]]


def guarded(func: Callable[P, Coroutine[Any, Any, T]]) -> Callable[P, Coroutine[Any, Any, T]]:
    """Turn Redis failures into StoreUnavailable, which the API answers with 503."""

    @functools.wraps(func)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await func(*args, **kwargs)
        except AggregatorError:
            raise
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"Redis did not answer: {exc}") from exc

    return wrapper


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    data: Json


class Store:
    def __init__(
        self, *, url: str, prefix: str, timeout_s: float, retries: int, events_maxlen: int
    ) -> None:
        # After a Redis restart every pooled connection is stale and fails once: retry those on a
        # fresh connection instead of answering 503 (a timeout is not retried: it may have run).
        self._redis = aioredis.Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 2),
            retry_on_error=[RedisConnectionError],
        )
        self._prefix = prefix
        self._retries = retries
        self._events_maxlen = events_maxlen

    def key(self, *parts: str) -> str:
        return self._prefix + ":".join(parts)

    async def close(self) -> None:
        await self._redis.aclose()

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except (RedisError, OSError):
            return False

    # -- transactions ---------------------------------------------------------------------

    @guarded
    async def transact(self, step: Step[T]) -> T:
        """Run `step` (reads through a Reader, returns a value and writes) atomically, retrying."""
        for attempt in range(self._retries):
            async with self._redis.pipeline(transaction=True) as pipe:
                try:
                    value, ops = await step(Reader(pipe))
                    if not ops:
                        return value
                    pipe.multi()  # type: ignore[no-untyped-call]
                    for op in ops:
                        self._queue(pipe, op)
                    await pipe.execute()
                    return value
                except WatchError:
                    await asyncio.sleep(random.uniform(0, 0.002 * min(attempt + 1, 10)))
        raise StoreContention(f"gave up after {self._retries} conflicting transactions")

    def _queue(self, pipe: Pipeline, op: Op) -> None:
        match op:
            case Put(key, value, ttl_s):
                pipe.set(key, dumps(value), ex=ttl_s)
            case HashPut(key, field, value):
                pipe.hset(key, field, dumps(value))
            case HashDel(key, field):
                pipe.hdel(key, field)
            case ListPush(key, value, cap):
                pipe.lpush(key, dumps(value))
                pipe.ltrim(key, 0, cap - 1)
            case SetAdd(key, member):
                pipe.sadd(key, member)
            case Emit(event_type, data):
                fields: dict[Any, Any] = {"type": event_type, "data": dumps(data)}
                pipe.xadd(self.key("events"), fields, maxlen=self._events_maxlen, approximate=True)

    # -- reads ----------------------------------------------------------------------------

    @guarded
    async def get_json(self, key: str) -> Json | None:
        raw = await self._redis.get(key)
        return None if raw is None else dict(json.loads(raw))

    @guarded
    async def get_many_json(self, keys: list[str]) -> list[Json | None]:
        if not keys:
            return []
        raws = await self._redis.mget(keys)
        return [None if raw is None else dict(json.loads(raw)) for raw in raws]

    @guarded
    async def members(self, key: str) -> set[str]:
        return {str(m) for m in await self._redis.smembers(key)}

    @guarded
    async def hash_json(self, key: str) -> dict[str, Json]:
        raw: dict[str, str] = await self._redis.hgetall(key)  # type: ignore[assignment]
        return {field: dict(json.loads(value)) for field, value in raw.items()}

    @guarded
    async def hash_field_json(self, key: str, field: str) -> Json | None:
        raw = await self._redis.hget(key, field)
        return None if raw is None else dict(json.loads(raw))

    @guarded
    async def list_json(self, key: str, limit: int) -> list[Json]:
        raws = await self._redis.lrange(key, 0, limit - 1)
        return [dict(json.loads(raw)) for raw in raws]

    # -- events ---------------------------------------------------------------------------

    @guarded
    async def latest_event_id(self) -> str:
        newest = await self._redis.xrevrange(self.key("events"), count=1)
        return str(newest[0][0]) if newest else "0-0"

    @guarded
    async def read_events(self, after: str, *, block_ms: int, count: int = 100) -> list[Event]:
        """Events after the id `after`, waiting up to `block_ms` for the first one."""
        reply = await self._redis.xread({self.key("events"): after}, count=count, block=block_ms)
        if not reply:
            return []
        entries: list[tuple[str, dict[str, str]]] = cast(Any, reply)[0][1]
        return [Event(str(i), f["type"], dict(json.loads(f["data"]))) for i, f in entries]


def dumps(data: Json) -> str:
    return json.dumps(data, separators=(",", ":"))
