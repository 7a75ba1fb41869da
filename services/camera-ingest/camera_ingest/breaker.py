"""A circuit breaker per downstream: closed -> open after N transient failures in a row ->
half-open after a reset time (one probe call) -> closed on success, open again on failure."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Literal, TypeVar

from camera_ingest.errors import (
    CircuitOpen,
    PermanentDownstreamError,
    TransientDownstreamError,
)

T = TypeVar("T")
State = Literal["closed", "open", "half-open"]
STATE_VALUE: dict[State, int] = {"closed": 0, "half-open": 1, "open": 2}


class CircuitBreaker:
    def __init__(
        self,
        service: str,
        *,
        failures: int,
        reset_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service = service
        self.failures = failures
        self.reset_s = reset_s
        self.clock = clock
        self._state: State = "closed"
        self._count = 0
        self._opened_at = 0.0
        self._probing = False

    @property
    def state(self) -> State:
        if self._state == "open" and self.clock() - self._opened_at >= self.reset_s:
            return "half-open"
        return self._state

    def retry_in(self) -> float:
        return max(0.0, self._opened_at + self.reset_s - self.clock())

    def _admit(self) -> None:
        state = self.state
        if state == "open" or (state == "half-open" and self._probing):
            raise CircuitOpen(self.service, self.retry_in() if state == "open" else 0.05)
        if state == "half-open":
            self._state, self._probing = "half-open", True

    def _success(self) -> None:
        self._state, self._count, self._probing = "closed", 0, False

    def _failure(self) -> None:
        self._count += 1
        if self._state == "half-open" or self._count >= self.failures:
            self._state, self._opened_at = "open", self.clock()
        self._probing = False

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Run `fn` unless the circuit is open. Only transient errors count as failures: a
        downstream that answers 422 is up."""
        self._admit()
        try:
            result = await fn()
        except TransientDownstreamError:
            self._failure()
            raise
        except PermanentDownstreamError:
            self._success()
            raise
        except BaseException:
            self._probing = False
            raise
        self._success()
        return result
