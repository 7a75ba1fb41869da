"""The gateway is ready when every upstream's /readyz answers 200.

`UpstreamReadiness` probes all of them concurrently and keeps the round's result for `ttl_s`
(1 s); shelter-kit's `/readyz` asks it through one check per upstream, so the answer names each.

Our own lines, a small cache: /readyz is public and needs no key, so without it every call would
fan out into four upstream probes, and a flood of N calls into 4N. With it there is at most one
round per second: callers that arrive while a round is in flight wait for that round (a lock)
instead of starting their own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping

import httpx

from gateway.proxy import Upstream
from shelter_kit.context import outbound_headers
from shelter_kit.ops import Check

READY_CACHE_S = 1.0


class UpstreamReadiness:
    def __init__(
        self,
        client: httpx.AsyncClient,
        upstreams: Mapping[str, Upstream],
        *,
        timeout_s: float,
        ttl_s: float = READY_CACHE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._upstreams = upstreams
        self._timeout = timeout_s
        self._ttl = ttl_s
        self._clock = clock
        self._lock = asyncio.Lock()
        self._last: tuple[float, dict[str, str | None]] | None = None

    def checks(self) -> dict[str, Check]:
        """One shelter-kit readiness check per upstream, all answered from the same round."""
        return {name: self._check(name) for name in self._upstreams}

    def _check(self, name: str) -> Check:
        async def check() -> str | None:
            return (await self.results())[name]

        return check

    async def results(self) -> dict[str, str | None]:
        """Each upstream: None when ready, else why not ('status 503', 'unreachable (...)')."""
        async with self._lock:
            if self._last is None or self._clock() - self._last[0] >= self._ttl:
                self._last = (self._clock(), await self._probe_all())
            return self._last[1]

    async def _probe_all(self) -> dict[str, str | None]:
        names = list(self._upstreams)
        found = await asyncio.gather(*(self._probe(self._upstreams[n]) for n in names))
        return dict(zip(names, found, strict=True))

    async def _probe(self, upstream: Upstream) -> str | None:
        try:
            response = await self._client.get(
                f"{upstream.base_url}/readyz", timeout=self._timeout, headers=outbound_headers()
            )
        except httpx.HTTPError as exc:
            return f"unreachable ({type(exc).__name__})"
        return None if response.status_code == 200 else f"status {response.status_code}"
