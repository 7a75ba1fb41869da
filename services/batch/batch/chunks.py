"""The durable chunk queue on a Redis Stream with one consumer group, as camera-ingest's outbox.

    batch:chunks   stream, one entry {job, chunk, items} per chunk of a job; group `workers`

Each worker process is a consumer (XREADGROUP), so adding processes or replicas adds throughput.
An entry stays pending until its worker acks it (XACK + XDEL in one transaction), which it does
only once every item of the chunk has a result (or the job ended); a worker that dies leaves it
pending, and another takes it over with XAUTOCLAIM once it has been idle `reclaim_min_idle_s`.
A working consumer resets that idle time before each classifier call (`heartbeat`), and stops
when the entry is no longer its own. The items travel in the entry (JSON; names and labels, never
image bytes), so XLEN is the number of chunks not yet done.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from batch.items import Item
from batch.store import Redis, ResponseError, translated

STREAM = "batch:chunks"
GROUP = "workers"

# KEYS: stream   ARGV: group, consumer, message id
# Refresh the entry's idle time only while we still own it: 0 when another consumer reclaimed it
# (or it was acked), so a slow worker stops instead of stealing it back.
HEARTBEAT = """
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if #p == 0 or p[1][2] ~= ARGV[2] then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID')
return 1
"""


@dataclass(frozen=True)
class Chunk:
    message_id: str
    job_id: str
    number: int
    items: list[Item]


@dataclass(frozen=True)
class QueueStats:
    depth: int
    pending: int


def entry_fields(job_id: str, number: int, items: list[Item]) -> dict[str, str]:
    """The fields of a chunk's stream entry (XADDed by `Jobs.create`, in its transaction)."""
    payload = json.dumps([item.to_json() for item in items], separators=(",", ":"))
    return {"job": job_id, "chunk": str(number), "items": payload}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _chunk(message_id: Any, fields: Any) -> Chunk:
    f = {_text(k): _text(v) for k, v in (fields or {}).items()}
    try:
        items = [Item.from_json(doc) for doc in json.loads(f.get("items", "[]"))]
        number = int(f.get("chunk", "0"))
    except (ValueError, KeyError, TypeError):  # not ours: the worker acks it as empty
        items, number = [], 0
    return Chunk(message_id=_text(message_id), job_id=f.get("job", ""), number=number, items=items)


class ChunkQueue:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._heartbeat = redis.register_script(HEARTBEAT)

    @translated
    async def ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    @translated
    async def read_new(self, consumer: str, *, block_ms: int) -> list[Chunk]:
        try:
            reply: Any = await self.redis.xreadgroup(GROUP, consumer, {STREAM: ">"}, 1, block_ms)
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            await self.ensure_group()  # Redis lost its data (a restart without persistence)
            return []
        return [_chunk(mid, fields) for _, entries in reply or [] for mid, fields in entries]

    @translated
    async def claim_idle(self, consumer: str, *, min_idle_ms: int, count: int) -> list[Chunk]:
        """XAUTOCLAIM: take over chunks a dead (or stalled) consumer left pending."""
        reply: Any = await self.redis.xautoclaim(STREAM, GROUP, consumer, min_idle_ms, "0-0", count)
        return [_chunk(mid, fields) for mid, fields in reply[1] if fields]

    @translated
    async def heartbeat(self, consumer: str, chunk: Chunk) -> bool:
        """Reset the chunk's idle time; False when it is no longer ours."""
        args = [GROUP, consumer, chunk.message_id]
        return int(await self._heartbeat(keys=[STREAM], args=args)) == 1

    @translated
    async def ack(self, chunk: Chunk) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xack(STREAM, GROUP, chunk.message_id)
            pipe.xdel(STREAM, chunk.message_id)
            await pipe.execute()

    @translated
    async def stats(self) -> QueueStats:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xlen(STREAM)
            pipe.xpending(STREAM, GROUP)
            depth, pending = await pipe.execute(raise_on_error=False)
        pending_n = int(pending["pending"]) if isinstance(pending, dict) else 0
        return QueueStats(depth=int(depth) if isinstance(depth, int) else 0, pending=pending_n)
