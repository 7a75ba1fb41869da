"""The job records in Redis: the only module that knows their layout.

Layout (db 4 under `make run`, every key under `batch:`):
    batch:jobs                    sorted set: job ids by creation time (the listing)
    batch:job:{id}                hash: state, kind, source, target, labels, total, done, failed,
                                  created_ms, started_ms, finished_ms, error
    batch:job:{id}:results        hash: item index -> the item's result (JSON), set once
    batch:job:{id}:reasons        hash: failure reason -> items
    batch:job:{id}:compare        hash: replay counters (compared, agreed, cm:{primary}|{label}..)
    batch:job:{id}:disagree       list: the first disagreeing frame ids of a replay
    batch:chunks                  the chunk queue (`chunks.py`)

A job and all its chunks are written in one transaction, so a job exists with all its work queued
or not at all. `done` and `failed` change only inside the script that stores an item's first
result (`job_scripts.RECORD`), so they always equal the stored results. Every key expires with the
job: `max_job_age_s` after creation, `retention_s` after it finished.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from batch import job_scripts as lua
from batch.chunks import STREAM, entry_fields
from batch.errors import JobFinished, JobNotFound
from batch.items import Item, Outcome
from batch.schemas import ACTIVE_STATES, JobState
from batch.store import Redis, translated

INDEX = "batch:jobs"


def job_key(job_id: str) -> str:
    return f"batch:job:{job_id}"


def job_keys(job_id: str) -> list[str]:
    base = job_key(job_id)
    return [base, f"{base}:results", f"{base}:reasons", f"{base}:compare", f"{base}:disagree"]


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class TargetModel:
    model: str
    version: str
    requested: str
    labels: list[str]


@dataclass(frozen=True)
class NewJob:
    job_id: str
    kind: str  # "archive" | "urls" | "frames"
    source: dict[str, Any]
    target: TargetModel
    items: list[Item]


@dataclass(frozen=True)
class JobRecord:
    job_id: str
    state: JobState
    kind: str
    source: dict[str, Any]
    target: TargetModel
    total: int
    done: int
    failed: int
    created_ms: int
    started_ms: int | None
    finished_ms: int | None
    error: str | None
    reasons: dict[str, int] = field(default_factory=dict)
    compare: dict[str, int] = field(default_factory=dict)
    disagreeing: list[str] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _ms(value: str | None) -> int | None:
    return int(value) if value else None


def _record(raw: dict[Any, Any], reasons: Any, compare: Any, disagree: Any) -> JobRecord:
    f = {_text(k): _text(v) for k, v in raw.items()}
    target = TargetModel(f["model"], f["version"], f["requested"], json.loads(f["labels"]))
    return JobRecord(
        job_id=f["job_id"],
        state=cast(JobState, f["state"]),  # written only by `create` and the scripts
        kind=f["kind"],
        source=json.loads(f["source"]),
        target=target,
        total=int(f["total"]),
        done=int(f.get("done", 0)),
        failed=int(f.get("failed", 0)),
        created_ms=int(f["created_ms"]),
        started_ms=_ms(f.get("started_ms")),
        finished_ms=_ms(f.get("finished_ms")),
        error=f.get("error") or None,
        reasons={_text(k): int(v) for k, v in (reasons or {}).items()},
        compare={_text(k): int(v) for k, v in (compare or {}).items()},
        disagreeing=[_text(x) for x in disagree or []],
    )


def _result_args(outcomes: Sequence[Outcome]) -> list[str | int]:
    args: list[str | int] = []
    for o in outcomes:
        value = o.label if o.ok else o.reason
        primary = (o.item.primary or "").replace("|", "/")
        args += [o.item.index, o.stored(), "1" if o.ok else "0", value or "", primary]
        args.append(o.item.feedback or "")
    return args


class Jobs:
    def __init__(
        self, redis: Redis, *, chunk_size: int, retention_s: int, max_age_s: int, max_listed: int
    ) -> None:
        self.redis = redis
        self.chunk_size = chunk_size
        self.retention_s = retention_s
        self.max_age_s = max_age_s
        self.max_listed = max_listed
        self._record = redis.register_script(lua.RECORD)
        self._start = redis.register_script(lua.START)
        self._end = redis.register_script(lua.END)

    @translated
    async def create(self, job: NewJob) -> None:
        """The job hash, its place in the listing and every chunk: one transaction."""
        t = job.target
        fields: dict[str, str | int] = {
            "job_id": job.job_id, "state": "queued", "kind": job.kind,
            "source": json.dumps(job.source), "model": t.model, "version": t.version,
            "requested": t.requested, "labels": json.dumps(t.labels), "total": len(job.items),
            "done": 0, "failed": 0, "created_ms": now_ms(),
        }  # fmt: skip
        size = self.chunk_size
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(job_key(job.job_id), mapping=fields)  # type: ignore[arg-type] # redis-py's
            pipe.expire(job_key(job.job_id), self.max_age_s)
            pipe.zadd(INDEX, {job.job_id: fields["created_ms"]})
            for number, start in enumerate(range(0, len(job.items), size)):
                chunk = entry_fields(job.job_id, number, job.items[start : start + size])
                pipe.xadd(STREAM, chunk)  # type: ignore[arg-type]
            await pipe.execute()

    @translated
    async def load(self, job_id: str) -> JobRecord:
        keys = job_keys(job_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys[0])
            pipe.hgetall(keys[2])
            pipe.hgetall(keys[3])
            pipe.lrange(keys[4], 0, -1)
            raw, reasons, compare, disagree = await pipe.execute()
        if not raw:
            raise JobNotFound(f"no job {job_id!r} (unknown, or expired after its retention)")
        return _record(raw, reasons, compare, disagree)

    @translated
    async def state(self, job_id: str) -> str:
        """The job's state, `gone` when it is unknown or expired (one cheap HGET)."""
        state = await self.redis.hget(job_key(job_id), "state")
        return _text(state) if state is not None else "gone"

    async def listing(self, *, limit: int, state: JobState | None) -> list[JobRecord]:
        """The newest jobs first; ids whose job expired are pruned from the listing."""
        found: list[JobRecord] = []
        for job_id in await self._newest(10_000 if state else limit):
            try:
                record = await self.load(job_id)
            except JobNotFound:
                await self._forget(job_id)
                continue
            if state is None or record.state == state:
                found.append(record)
            if len(found) >= limit:
                break
        return found

    @translated
    async def _newest(self, limit: int) -> list[str]:
        return [_text(x) for x in await self.redis.zrevrange(INDEX, 0, limit - 1)]

    @translated
    async def _forget(self, job_id: str) -> None:
        await self.redis.zrem(INDEX, job_id)

    async def prune(self) -> None:
        for job_id in await self._newest(100_000):
            if await self.state(job_id) == "gone":
                await self._forget(job_id)

    @translated
    async def start(self, job_id: str) -> str:
        return _text(await self._start(keys=job_keys(job_id), args=[now_ms()]))

    @translated
    async def end(self, job_id: str, state: str, error: str = "") -> str:
        """Cancel or fail an active job; the state it had before (`gone` if unknown)."""
        args: list[str | int] = [now_ms(), self.retention_s, state, error]
        return _text(await self._end(keys=job_keys(job_id), args=args))

    async def cancel(self, job_id: str) -> JobRecord:
        """Workers stop picking its chunks (and drop results still arriving); idempotent."""
        before = await self.end(job_id, "cancelled")
        if before == "gone":
            raise JobNotFound(f"no job {job_id!r} (unknown, or expired after its retention)")
        if before in ("done", "failed"):
            raise JobFinished(f"job {job_id} is already {before}")
        return await self.load(job_id)

    @translated
    async def recorded(self, job_id: str, indices: Sequence[int]) -> set[int]:
        """Which of these items already have a result."""
        if not indices:
            return set()
        values = await self.redis.hmget(job_keys(job_id)[1], [str(i) for i in indices])
        return {i for i, v in zip(indices, values, strict=True) if v is not None}

    @translated
    async def record(self, job_id: str, outcomes: Sequence[Outcome]) -> tuple[int, str]:
        """Store each outcome unless its item has one: (newly stored, the job's state after)."""
        args: list[str | int] = [now_ms(), self.retention_s, self.max_listed]
        args += _result_args(outcomes)
        new, state = await self._record(keys=job_keys(job_id), args=args)
        return int(new), _text(state)

    @translated
    async def results(self, job_id: str, start: int, count: int) -> list[tuple[int, bytes | str]]:
        """The stored results of items start..start+count-1 (those that have one)."""
        indices = list(range(start, start + count))
        values = await self.redis.hmget(job_keys(job_id)[1], [str(i) for i in indices])
        return [(i, v) for i, v in zip(indices, values, strict=True) if v is not None]
