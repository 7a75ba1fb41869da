"""The delivery workers: take a frame from the outbox, classify it, post the observation, and
only then XACK. Transient failures retry with exponential backoff and jitter behind a circuit
breaker per downstream; permanent ones send the frame to the dead-letter set, and so does a frame
the same downstream answers 500 for `max_server_errors` times in a row (a poison frame) while
its breaker is closed. Outages (no answer, 502/503/504, breaker open) never dead-letter a frame,
nor does a 500 to the breaker's half-open probe: a downstream answering 500 to every frame opens
the breaker, and the frame that happens to probe it each time is not poison for that. Before
each downstream call the worker refreshes its claim on the entry and stops if another consumer
took it over.
A delivered frame is handed to the archive (best effort: it never fails a delivery) before its
bytes leave Redis."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from camera_ingest.archive import Archive
from camera_ingest.breaker import CircuitBreaker
from camera_ingest.clients import AggregatorClient, ClassifierClient
from camera_ingest.errors import (
    CircuitOpen,
    EntryLost,
    FrameExpired,
    FrameNotFound,
    PermanentDownstreamError,
    ServerErrorAnswer,
    StoreUnavailable,
    TransientDownstreamError,
)
from camera_ingest.metrics import Metrics
from camera_ingest.outbox import Entry, Outbox, OutboxRecord
from camera_ingest.schemas import Classification, Observation
from shelter_kit.context import request_id_var, traceparent_var

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    base_s: float
    max_s: float
    max_attempts: int  # 0: forever
    max_server_errors: int = 0  # same frame answered 500 this many times in a row -> dead; 0: never

    def delay(self, attempt: int) -> float:
        """Full jitter: uniform between base and the capped exponential."""
        ceiling = min(self.max_s, self.base_s * 2 ** min(attempt, 30))
        return random.uniform(self.base_s, max(self.base_s, ceiling))


@dataclass
class _Streak:
    """Consecutive 500-class answers from one downstream for one frame."""

    service: str = ""
    count: int = 0

    def add(self, service: str) -> int:
        self.count = self.count + 1 if service == self.service else 1
        self.service = service
        return self.count


class Deliverer:
    """Delivers one outbox entry, retrying until it is delivered, dead, or we are stopping."""

    def __init__(
        self,
        *,
        outbox: Outbox,
        classifier: ClassifierClient,
        aggregator: AggregatorClient,
        archive: Archive,
        breakers: dict[str, CircuitBreaker],
        policy: RetryPolicy,
        metrics: Metrics,
        consumer: str,
        stopping: asyncio.Event,
    ) -> None:
        self.outbox = outbox
        self.classifier = classifier
        self.aggregator = aggregator
        self.archive = archive
        self.breakers = breakers
        self.policy = policy
        self.metrics = metrics
        self.consumer = consumer
        self.stopping = stopping

    async def handle(self, entry: Entry) -> None:
        if entry.frame_id is None:
            await self.outbox.finish(entry, status="dead", reason="stream entry without frame id")
            return
        attempt, streak = 0, _Streak()
        while True:
            try:
                await self._attempt(entry, entry.frame_id)
                return
            except EntryLost:
                self.metrics.deliveries.labels("taken_over").inc()
                log.warning(
                    "entry taken over by another consumer", extra={"frame_id": entry.frame_id}
                )
                return
            except FrameNotFound:
                log.warning("frame record expired", extra={"frame_id": entry.frame_id})
                await self.outbox.finish(entry, status="dead", reason="record expired")
                return
            except PermanentDownstreamError as exc:
                await self._dead(entry, str(exc))
                return
            except TransientDownstreamError as exc:
                if await self._give_up(entry, exc, streak):
                    return
                failure = exc
            attempt += 1
            await self._pause(failure, attempt)
            if self.stopping.is_set():
                return  # left pending: XAUTOCLAIM hands it to a live consumer

    async def _attempt(self, entry: Entry, frame_id: str) -> None:
        record = await self.outbox.load(frame_id)
        if record.finished:  # finished, but the ack was lost
            await self.outbox.finish(entry, status=record.status, reason=record.last_error or "")
            return
        request_id = record.request_id or frame_id
        tokens = request_id_var.set(request_id), traceparent_var.set(record.traceparent)
        try:
            data: bytes | None = None
            if record.classification is not None:  # classified before this attempt
                result = record.classification
            else:
                data = await self._bytes(record)
                result = await self._classify(entry, record, data, request_id)
            observation = Observation(
                frame_id=frame_id,
                camera_id=record.camera_id,
                space_id=record.space_id,
                captured_at=record.captured_at,
                label=result.label,
                probabilities=result.probabilities,
                model=result.model,
                model_version=result.version,
                prediction_id=result.prediction_id,
                role=result.role,
                strategy=result.strategy,
            )
            outcome = await self._call(
                entry,
                "aggregator",
                lambda: self.aggregator.observe(observation, request_id=request_id),
            )
            await self._archive(record, result, data)
            await self.outbox.finish(entry, status="delivered")
            self.metrics.deliveries.labels("delivered").inc()
            if outcome == "conflict":  # stored before with another body: counted once already
                self.metrics.aggregator_conflicts.inc()
                log.warning(
                    "aggregator holds this frame with another body (409); counted as delivered",
                    extra={"frame_id": frame_id},
                )
            log.info(
                "frame delivered",
                extra={"frame_id": frame_id, "label": result.label, "aggregator": outcome},
            )
        finally:
            request_id_var.reset(tokens[0])
            traceparent_var.reset(tokens[1])

    async def _bytes(self, record: OutboxRecord) -> bytes:
        data = await self.outbox.frame_data(record.frame_id)
        if data is None:
            raise FrameExpired(record.frame_id)
        return data

    async def _classify(
        self, entry: Entry, record: OutboxRecord, data: bytes, request_id: str
    ) -> Classification:
        """Classify once: the result is stored on the frame, so a retry after an aggregator
        failure (or a crash) reuses it."""
        result = await self._call(
            entry,
            "classifier",
            lambda: self.classifier.predict(
                data,
                content_type=record.content_type,
                request_id=request_id,
                camera_id=record.camera_id,
            ),
        )
        await self.outbox.set_classified(record.frame_id, result)
        return result

    async def _archive(
        self, record: OutboxRecord, result: Classification, data: bytes | None
    ) -> None:
        """Best effort: a frame whose bytes cannot be read now is delivered unarchived."""
        if data is None:
            with contextlib.suppress(StoreUnavailable):
                data = await self.outbox.frame_data(record.frame_id)
        if data is None:
            self.metrics.archive_write_failures.inc()
            log.warning("frame bytes unreadable: not archived", extra={"frame_id": record.frame_id})
            return
        await self.archive.keep(record, result, data)

    async def _call(self, entry: Entry, service: str, fn: Callable[[], Awaitable[T]]) -> T:
        """One downstream call through its breaker, after refreshing our claim on the entry: one
        attempt (timeouts of both calls) plus a pause can outlast the reclaim idle time."""
        if not await self.outbox.heartbeat(self.consumer, entry):
            raise EntryLost(f"entry {entry.message_id} is no longer ours")
        breaker = self.breakers[service]
        probe = breaker.state != "closed"
        try:
            result = await breaker.call(fn)
        except CircuitOpen:
            raise
        except TransientDownstreamError as exc:
            self.metrics.downstream_calls.labels(service, "transient").inc()
            if isinstance(exc, ServerErrorAnswer):
                exc.probe = probe
            raise
        except PermanentDownstreamError:
            self.metrics.downstream_calls.labels(service, "permanent").inc()
            raise
        self.metrics.downstream_calls.labels(service, "ok").inc()
        return result

    async def _give_up(self, entry: Entry, exc: TransientDownstreamError, streak: _Streak) -> bool:
        assert entry.frame_id is not None
        if isinstance(exc, CircuitOpen):
            return False  # no call was made: not an attempt
        attempts = await self.outbox.record_attempt(entry.frame_id, str(exc))
        self.metrics.deliveries.labels("retried").inc()
        if self.policy.max_attempts and attempts >= self.policy.max_attempts:
            await self._dead(entry, f"gave up after {attempts} attempts: {exc}")
            return True
        limit = self.policy.max_server_errors
        poison_sign = isinstance(exc, ServerErrorAnswer) and not exc.probe
        if poison_sign and limit and streak.add(exc.service) >= limit:
            await self._dead(entry, f"poison frame: {limit} server errors in a row: {exc}")
            return True
        log.info(
            "delivery failed, will retry",
            extra={"frame_id": entry.frame_id, "attempt": attempts, "error": str(exc)},
        )
        return False

    async def _pause(self, exc: Exception, attempt: int) -> None:
        if isinstance(exc, CircuitOpen):
            delay = exc.retry_in_s + random.uniform(0, self.policy.base_s)
        else:
            delay = self.policy.delay(attempt)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), delay)

    async def _dead(self, entry: Entry, reason: str) -> None:
        await self.outbox.finish(entry, status="dead", reason=reason)
        self.metrics.deliveries.labels("dead").inc()
        log.warning("frame dead-lettered", extra={"frame_id": entry.frame_id, "reason": reason})
