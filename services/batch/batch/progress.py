"""A job as its clients see it: counts, rate, ETA, the replay comparison (pure, time passed in),
and the live progress stream (server-sent events) that ends when the job does.

Rate is the items recorded per second since the job started (to its end, once it ended); the ETA
is what remains at that rate. The stream polls the job record every `interval_s` (any replica can
serve it: the record is in Redis), sends a `progress` event whenever the counts or the state
changed, and an `end` event with the final view when the job is done, failed or cancelled.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

from batch.errors import JobNotFound, StoreUnavailable
from batch.jobs import JobRecord, now_ms
from batch.schemas import Comparison, Counts, FeedbackAgreement, JobView, TargetView

HEARTBEAT_S = 15.0


def _at(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, UTC) if ms is not None else None


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def rate_and_eta(job: JobRecord, now_ms: int) -> tuple[float | None, float | None]:
    processed = job.done + job.failed
    if job.started_ms is None or processed == 0:
        return None, None
    elapsed_s = ((job.finished_ms or now_ms) - job.started_ms) / 1000
    if elapsed_s <= 0:
        return None, None
    rate = processed / elapsed_s
    eta = (job.total - processed) / rate if job.active else 0.0
    return round(rate, 2), round(eta, 1)


def comparison(job: JobRecord) -> Comparison | None:
    """The replay's agreement, from the counters the results were stored with."""
    if job.kind != "frames":
        return None
    c = job.compare
    confusion: dict[str, dict[str, int]] = {}
    for key, count in c.items():
        if key.startswith("cm:"):
            primary, _, candidate = key[3:].partition("|")
            confusion.setdefault(primary, {})[candidate] = count
    labelled = c.get("fb:labelled", 0)
    feedback = FeedbackAgreement(
        labelled=labelled,
        candidate_agreed=c.get("fb:candidate", 0),
        primary_agreed=c.get("fb:primary", 0),
        candidate_agreement=_share(c.get("fb:candidate", 0), labelled),
        primary_agreement=_share(c.get("fb:primary", 0), labelled),
    )
    return Comparison(
        compared=c.get("compared", 0),
        agreed=c.get("agreed", 0),
        agreement=_share(c.get("agreed", 0), c.get("compared", 0)),
        unclassified_at_the_time=c.get("unclassified", 0),
        confusion=confusion,
        disagreeing=c.get("disagreeing", 0),
        disagreeing_frames=job.disagreeing,
        feedback=feedback,
    )


def view(job: JobRecord, now_ms: int) -> JobView:
    rate, eta = rate_and_eta(job, now_ms)
    counts = Counts(
        total=job.total,
        done=job.done,
        failed=job.failed,
        remaining=max(0, job.total - job.done - job.failed),
        reasons=job.reasons,
    )
    t = job.target
    return JobView(
        job_id=job.job_id,
        state=job.state,
        source=job.source,
        target=TargetView(model=t.model, version=t.version, requested=t.requested),
        counts=counts,
        rate_per_s=rate,
        eta_s=eta,
        created_at=_at(job.created_ms) or datetime.now(UTC),
        started_at=_at(job.started_ms),
        finished_at=_at(job.finished_ms),
        error=job.error,
        comparison=comparison(job),
    )


def sse(event: str, data: str) -> str:
    return f"event: {event}\ndata: {data}\n\n"


async def events(
    load: Callable[[], Awaitable[JobRecord]],
    *,
    interval_s: float,
    disconnected: Callable[[], Awaitable[bool]],
    stopping: asyncio.Event,
) -> AsyncIterator[str]:
    """`progress` events while the job runs, then one `end` event."""
    yield "retry: 2000\n\n"
    last, beat = "", time.monotonic()
    while not stopping.is_set() and not await disconnected():
        try:
            job = await load()
        except (JobNotFound, StoreUnavailable) as exc:  # expired meanwhile, or Redis is away
            yield sse("error", json.dumps({"detail": str(exc)}))
            return
        current = view(job, now_ms())
        if not job.active:
            yield sse("end", current.model_dump_json())
            return
        state = current.model_dump_json(include={"state", "counts"})
        if state != last:
            yield sse("progress", current.model_dump_json())
            last, beat = state, time.monotonic()
        elif time.monotonic() - beat > HEARTBEAT_S:
            yield ": still running\n\n"
            beat = time.monotonic()
        await asyncio.sleep(interval_s)
