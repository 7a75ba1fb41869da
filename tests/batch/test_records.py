"""The job records on a real Redis: one transaction creates a job and all its chunks; a result is
stored once per item and counted in the same step, so recording again (a redone chunk, two
consumers on one chunk) counts nothing twice; an ended job takes no more results; every key
expires with the job."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from batch import results
from batch.chunks import GROUP, STREAM, ChunkQueue
from batch.errors import JobFinished, JobNotFound
from batch.items import Item, Outcome
from batch.jobs import Jobs, NewJob, TargetModel, job_keys
from batch.store import Redis, connect

pytestmark = pytest.mark.anyio
TARGET = TargetModel("m", "1", "current", ["cat", "dog", "other"])
RETENTION_S, MAX_AGE_S = 600, 3600


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = connect(f"{redis_url}/4")
    yield client
    await client.aclose()


@pytest.fixture
async def jobs(redis: Redis) -> Jobs:
    await ChunkQueue(redis).ensure_group()
    return Jobs(redis, chunk_size=2, retention_s=RETENTION_S, max_age_s=MAX_AGE_S, max_listed=2)


def items(n: int, **fields: str) -> list[Item]:
    return [Item(i, f"frame-{i}", **fields) for i in range(n)]


def ok(item: Item, label: str = "cat") -> Outcome:
    return item.classified(label, {"cat": 0.9, "dog": 0.05, "other": 0.05})


async def test_a_job_is_created_with_all_its_chunks(jobs: Jobs, redis: Redis) -> None:
    await jobs.create(NewJob("j1", "archive", {"kind": "archive"}, TARGET, items(5)))
    chunks = await ChunkQueue(redis).read_new("c", block_ms=10)
    assert len(chunks) == 1  # read one at a time
    assert await redis.xlen(STREAM) == 3  # 5 items, 2 a chunk
    assert [item.index for item in chunks[0].items] == [0, 1]
    record = await jobs.load("j1")
    assert (record.state, record.total, record.done) == ("queued", 5, 0)
    assert 0 < await redis.ttl(job_keys("j1")[0]) <= MAX_AGE_S


async def test_recording_again_counts_nothing_twice(jobs: Jobs, redis: Redis) -> None:
    batch = items(4)
    await jobs.create(NewJob("j2", "archive", {"kind": "archive"}, TARGET, batch))
    first = [ok(batch[0]), batch[1].failed("corrupt-image", "truncated")]
    assert await jobs.record("j2", first) == (2, "queued")
    again = [ok(batch[0], "dog"), batch[1].failed("corrupt-image", "truncated"), ok(batch[2])]
    assert await jobs.record("j2", again) == (1, "queued")  # only item 2 is new
    record = await jobs.load("j2")
    assert (record.done, record.failed, record.reasons) == (2, 1, {"corrupt-image": 1})
    assert await redis.hlen(job_keys("j2")[1]) == record.done + record.failed
    assert await jobs.recorded("j2", [0, 1, 2, 3]) == {0, 1, 2}
    stored = dict(await jobs.results("j2", 0, 4))
    assert '"label":"cat"' in str(stored[0])  # the first result stands


async def test_the_last_result_finishes_the_job_and_starts_its_retention(
    jobs: Jobs, redis: Redis
) -> None:
    batch = items(2)
    await jobs.create(NewJob("j3", "archive", {"kind": "archive"}, TARGET, batch))
    assert await jobs.start("j3") == "running"
    assert await jobs.record("j3", [ok(b) for b in batch]) == (2, "done")
    record = await jobs.load("j3")
    assert record.finished_ms is not None
    for key in job_keys("j3")[:2]:
        assert 0 < await redis.ttl(key) <= RETENTION_S
    with pytest.raises(JobFinished, match="already done"):
        await jobs.cancel("j3")


async def test_a_cancelled_job_takes_no_more_results(jobs: Jobs) -> None:
    batch = items(3)
    await jobs.create(NewJob("j4", "archive", {"kind": "archive"}, TARGET, batch))
    await jobs.record("j4", [ok(batch[0])])
    assert (await jobs.cancel("j4")).state == "cancelled"
    assert (await jobs.cancel("j4")).state == "cancelled"  # idempotent
    assert await jobs.record("j4", [ok(batch[1])]) == (0, "cancelled")
    assert (await jobs.load("j4")).done == 1
    with pytest.raises(JobNotFound):
        await jobs.cancel("nope")


async def test_a_replay_counts_agreement_as_it_stores(jobs: Jobs) -> None:
    frames = [
        Item(0, "f0", primary="cat", feedback="cat"),
        Item(1, "f1", primary="cat", feedback="dog"),
        Item(2, "f2", primary="dog"),
        Item(3, "f3", primary="dog"),
        Item(4, "f4"),
    ]
    await jobs.create(NewJob("j5", "frames", {"kind": "frames"}, TARGET, frames))
    outcomes = [ok(frames[0]), ok(frames[1], "dog"), ok(frames[2], "cat"), ok(frames[3], "other"),
                ok(frames[4])]  # fmt: skip
    await jobs.record("j5", outcomes)
    await jobs.record("j5", outcomes)  # again: nothing counted twice
    c = (await jobs.load("j5")).compare
    assert (c["compared"], c["agreed"], c["disagreeing"], c["unclassified"]) == (4, 1, 3, 1)
    assert (c["cm:cat|cat"], c["cm:cat|dog"], c["cm:dog|cat"], c["cm:dog|other"]) == (1, 1, 1, 1)
    assert (c["fb:labelled"], c["fb:candidate"], c["fb:primary"]) == (2, 2, 1)
    assert (await jobs.load("j5")).disagreeing == ["f1", "f2"]  # the first max_listed (2)


async def test_a_chunk_is_acked_and_deleted_together(jobs: Jobs, redis: Redis) -> None:
    queue = ChunkQueue(redis)
    await jobs.create(NewJob("j6", "archive", {"kind": "archive"}, TARGET, items(2)))
    (chunk,) = await queue.read_new("c1", block_ms=10)
    assert await queue.heartbeat("c1", chunk)
    assert not await queue.heartbeat("c2", chunk)  # not c2's
    await queue.ack(chunk)
    assert await redis.xlen(STREAM) == 0
    assert (await redis.xpending(STREAM, GROUP))["pending"] == 0
    assert not await queue.heartbeat("c1", chunk)  # acked: no longer anyone's


async def test_the_results_stream_page_by_page(redis: Redis) -> None:
    """A page of 1,000 results at a time, whatever the job's size (20,000 here, to stay quick: a
    job of 100,000 is 100 such pages, never more than one in memory)."""
    jobs = Jobs(redis, chunk_size=1000, retention_s=60, max_age_s=60, max_listed=0)
    many = [Item(i, f"photos/{i:06d}.jpg") for i in range(20_000)]
    await jobs.create(NewJob("big", "archive", {"kind": "archive"}, TARGET, many))
    for start in range(0, len(many), 5_000):
        await jobs.record("big", [ok(item) for item in many[start : start + 5_000]])
    record = await jobs.load("big")
    assert (record.state, record.done) == ("done", 20_000)
    pieces = [piece async for piece in results.stream(jobs, record, "csv")]
    assert len(pieces) == 1 + 20  # the header, then one piece per page of 1,000 results
    assert max(len(piece) for piece in pieces) < 200_000  # never more than a page at a time
    assert sum(piece.count("\n") for piece in pieces) == 1 + 20_000
