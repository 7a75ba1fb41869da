"""Everything the aggregator keeps, in Redis (its own db and `agg:` keys). The only redis importer.

Keys (`agg:` is `key_prefix`):

    frame:{frame_id}          JSON {digest, result}, expires after frame_ttl_s (idempotency)
    space:{space_id}          JSON fusion state (records.state_to_dict)
    spaces                    set of every space id observed
    history:{space_id}        list of observation entries, newest first, capped at history_max
    animals                   hash animal id -> JSON animal
    animals:in:{space_id}     set of the ids of the animals placed in the space
    alerts                    hash alert id -> JSON alert (open ones, and resolved ones until
                              alert_retention_s has passed)
    alerts:open:{space_id}    hash condition key -> alert id: the space's open alerts
    alerts:resolved           sorted set of resolved alert ids, scored by resolution time
    camhealth:open            hash condition key -> alert id: the open camera health alerts
                              (camera_offline, frames_dead; `camera_health.py`)
    camhealth:seen            hash camera id -> JSON {frames_dead, grew_at}: each ingest camera's
                              dead-frame count as last polled, and when it last grew
    events                    stream of change events, capped at about events_maxlen
    layout                    JSON {"version": n}: `upgrade.py` brings older data up to date

Every change is one optimistic transaction (WATCH the keys read, compute in Python, MULTI/EXEC the
writes, retry on conflict), so concurrent writers never lose an update, and the event that
describes a change is appended to the capped stream inside the same transaction. `transact` is
our own lines rather than redis-py's `Redis.transaction`: that one needs every watched key up
front (a step learns some keys from what it reads), retries forever, and at a fixed delay; ours
gives up with StoreContention (503) after `watch_retries`, with jitter. The connection
(reconnect once after a Redis restart, never retry a timeout) and the translation of Redis
failures into `StoreUnavailable` are the kit's (`shelter_kit.store`).
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from redis.asyncio.client import Pipeline
from redis.exceptions import WatchError

from aggregator.errors import StoreContention
from aggregator.writes import (
    Delete,
    Emit,
    HashDel,
    HashPut,
    ListPush,
    Op,
    Put,
    ScoredAdd,
    ScoredRemove,
    SetAdd,
    SetRemove,
)
from shelter_kit.store import connect, ping, translated

T = TypeVar("T")
Json = dict[str, Any]


class Reader:
    """Reads inside a transaction step: every key read is WATCHed first (once). A step that
    knows what it will read may `watch` it all up front, in one round trip."""

    def __init__(self, pipe: Pipeline) -> None:
        self._pipe = pipe
        self._watched: set[str] = set()

    async def watch(self, *keys: str) -> None:
        new = [key for key in dict.fromkeys(keys) if key not in self._watched]
        if new:
            await self._pipe.watch(*new)
            self._watched.update(new)

    async def json_many(self, *keys: str) -> list[Json | None]:
        await self.watch(*keys)
        return [loads(raw) for raw in await self._pipe.mget(keys)]

    async def json(self, key: str) -> Json | None:
        return (await self.json_many(key))[0]

    async def members(self, key: str) -> set[str]:
        await self.watch(key)
        return {str(m) for m in await self._pipe.smembers(key)}

    async def hash(self, key: str) -> dict[str, str]:
        await self.watch(key)
        return {str(f): str(v) for f, v in (await self._pipe.hgetall(key)).items()}

    async def hash_json(self, key: str, fields: Sequence[str] | None = None) -> dict[str, Json]:
        """The named fields' documents (those present), or every field's when `fields` is None."""
        if fields is not None and not fields:
            return {}
        await self.watch(key)
        if fields is None:
            raw = await self._pipe.hgetall(key)
            return {str(field): dict(json.loads(value)) for field, value in raw.items()}
        values = await self._pipe.hmget(key, list(fields))
        return {f: dict(json.loads(v)) for f, v in zip(fields, values, strict=True) if v}


Step = Callable[[Reader], Awaitable[tuple[T, list[Op]]]]


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    data: Json


class Store:
    def __init__(
        self, *, url: str, prefix: str, timeout_s: float, retries: int, events_maxlen: int
    ) -> None:
        self._redis = connect(url, timeout_s=timeout_s, decode_responses=True)
        self._prefix = prefix
        self._retries = retries
        self._events_maxlen = events_maxlen

    def key(self, *parts: str) -> str:
        return self._prefix + ":".join(parts)

    async def close(self) -> None:
        await self._redis.aclose()

    async def ping(self) -> str | None:
        """The readiness check: None when Redis answers PING, else the reason."""
        return await ping(self._redis)

    # -- writes ---------------------------------------------------------------------------

    @translated
    async def transact(self, step: Step[T]) -> T:
        """Run `step` (reads through a Reader, returns a value and writes) atomically, retrying."""
        for attempt in range(self._retries):
            async with self._redis.pipeline(transaction=True) as pipe:
                try:
                    value, ops = await step(Reader(pipe))
                    if ops:
                        pipe.multi()  # type: ignore[no-untyped-call]
                        for op in ops:
                            self._queue(pipe, op)
                        await pipe.execute()
                    return value
                except WatchError:
                    await asyncio.sleep(random.uniform(0, 0.002 * min(attempt + 1, 10)))
        raise StoreContention(f"gave up after {self._retries} conflicting transactions")

    @translated
    async def apply(self, ops: list[Op]) -> None:
        """Writes that depend on nothing read (MULTI/EXEC without WATCH)."""
        async with self._redis.pipeline(transaction=True) as pipe:
            for op in ops:
                self._queue(pipe, op)
            await pipe.execute()

    def _queue(self, pipe: Pipeline, op: Op) -> None:
        match op:
            case Put(key, value, ttl_s):
                pipe.set(key, dumps(value), ex=ttl_s)
            case Delete(key):
                pipe.delete(key)
            case HashPut(key, field, value):
                pipe.hset(key, field, value if isinstance(value, str) else dumps(value))
            case HashDel(key, field):
                pipe.hdel(key, field)
            case ListPush(key, value, cap):
                pipe.lpush(key, dumps(value))
                pipe.ltrim(key, 0, cap - 1)
            case SetAdd(key, member):
                pipe.sadd(key, member)
            case SetRemove(key, member):
                pipe.srem(key, member)
            case ScoredAdd(key, member, score):
                pipe.zadd(key, {member: score})
            case ScoredRemove(key, member):
                pipe.zrem(key, member)
            case Emit(event_type, data):
                fields: dict[Any, Any] = {"type": event_type, "data": dumps(data)}
                pipe.xadd(self.key("events"), fields, maxlen=self._events_maxlen, approximate=True)

    # -- reads ----------------------------------------------------------------------------

    @translated
    async def get_many_json(self, keys: list[str]) -> list[Json | None]:
        return [loads(raw) for raw in await self._redis.mget(keys)] if keys else []

    @translated
    async def members(self, key: str) -> set[str]:
        return {str(m) for m in await self._redis.smembers(key)}

    @translated
    async def hash_json(self, key: str) -> dict[str, Json]:
        raw = await self._redis.hgetall(key)
        return {str(field): dict(json.loads(value)) for field, value in raw.items()}

    @translated
    async def hash_field_json(self, key: str, field: str) -> Json | None:
        return loads(await self._redis.hget(key, field))

    @translated
    async def list_json(self, key: str, limit: int) -> list[Json]:
        raws = await self._redis.lrange(key, 0, limit - 1)
        return [dict(json.loads(raw)) for raw in raws]

    @translated
    async def scored_at_most(self, key: str, score: float, *, limit: int) -> list[str]:
        """Up to `limit` members of a sorted set scored at most `score`, the lowest first."""
        found = await self._redis.zrangebyscore(key, "-inf", score, start=0, num=limit)
        return [str(m) for m in found]

    # -- events ---------------------------------------------------------------------------

    @translated
    async def latest_event_id(self) -> str:
        newest = await self._redis.xrevrange(self.key("events"), count=1)
        return str(newest[0][0]) if newest else "0-0"

    @translated
    async def read_events(self, after: str, *, block_ms: int, count: int = 100) -> list[Event]:
        """Events after the id `after`, waiting up to `block_ms` for the first one."""
        reply = await self._redis.xread({self.key("events"): after}, count=count, block=block_ms)
        if not reply:
            return []
        entries: list[tuple[str, dict[str, str]]] = cast(Any, reply)[0][1]
        return [Event(str(i), f["type"], dict(json.loads(f["data"]))) for i, f in entries]


def dumps(data: Json) -> str:
    return json.dumps(data, separators=(",", ":"))


def loads(raw: str | bytes | None) -> Json | None:
    return None if raw is None else dict(json.loads(raw))
