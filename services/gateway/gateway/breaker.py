"""A circuit breaker per upstream: closed -> open after `failures` requests in a row got no answer
(connect error, dropped connection, timeout) -> after `reset_s`, half-open: one trial request
goes through while the others are refused -> closed when it gets an answer, open again if not.

An answer of any status counts as success: a 503 from an upstream is that upstream speaking (it
comes with its own Retry-After), and a 4xx says nothing about its health. While open, requests
are refused at once with `UpstreamCircuitOpen` (503 + Retry-After: the time left) instead of
each waiting for a connect timeout against a dead upstream.

Why our own (~50 lines) and not pybreaker: pybreaker is synchronous at heart (its async path is
Tornado's `gen.coroutine`, not asyncio), counts every exception of the call as a failure unless
told otherwise, and does not say how long it stays open, which the Retry-After needs. The state
is per process on purpose: a breaker is about what this replica sees of its own connections.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

from gateway.errors import UpstreamCircuitOpen

State = Literal["closed", "open", "half-open"]
HALF_OPEN_WAIT_S = 1.0  # what a caller refused during the trial request is told


class CircuitBreaker:
    def __init__(
        self,
        upstream: str,
        *,
        failures: int,
        reset_s: float,
        on_change: Callable[[str, State], None] = lambda upstream, state: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.upstream = upstream
        self._failures = failures
        self._reset_s = reset_s
        self._on_change = on_change
        self._clock = clock
        self._state: State = "closed"
        self._count = 0
        self._opened_at = 0.0
        self._trial = False

    @property
    def state(self) -> State:
        if self._state == "open" and self._clock() - self._opened_at >= self._reset_s:
            return "half-open"
        return self._state

    def admit(self) -> None:
        """Let a request try, or raise UpstreamCircuitOpen."""
        state = self.state
        if state == "open":
            left = self._opened_at + self._reset_s - self._clock()
            raise UpstreamCircuitOpen(self.upstream, left)
        if state == "half-open":
            if self._trial:
                raise UpstreamCircuitOpen(self.upstream, HALF_OPEN_WAIT_S)
            self._state, self._trial = "half-open", True

    def success(self) -> None:
        if self._state != "closed":
            self._on_change(self.upstream, "closed")
        self._state, self._count, self._trial = "closed", 0, False

    def failure(self) -> None:
        self._count += 1
        if self._state == "half-open" or self._count >= self._failures:
            if self._state != "open":
                self._on_change(self.upstream, "open")
            self._state, self._opened_at = "open", self._clock()
        self._trial = False

    def abandon(self) -> None:
        """The attempt ended without telling anything (cancelled): free the trial slot."""
        self._trial = False
