"""Forwarding to the upstreams over one shared `httpx.AsyncClient`, streaming both ways.

The request body streams through shelter-kit's bounded reader (the limit is the route's, by its
kind); the response streams back chunk by chunk, so server-sent events reach the client as they
are written. The timeout is the route's too (none for reading the event stream).

Upstream hygiene: transport errors become UpstreamUnavailable (502), timeouts UpstreamTimeout
(504), an open circuit UpstreamCircuitOpen (503 + Retry-After), each naming the upstream, never
its URL. A request is retried (`retries` times, after `backoff_s`) only when it is idempotent
(GET, HEAD, or PUT with an Idempotency-Key, whose body is therefore read first, within the
route's limit, so it can be sent again), and only on a connection error: never on a timeout (the
upstream may still be working on it) nor on any answer. Each upstream has its breaker
(`breaker.py`); every attempt counts towards it.

Each forwarded request carries the request context (X-Request-ID, a valid W3C `traceparent`) and
`X-Forwarded-Uri`, the public path and query the client called, so an upstream's problem
`instance` names the path the client knows (`/api/v1/spaces/x`, not `/v1/spaces/x`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import httpx

from gateway.breaker import CircuitBreaker
from gateway.config import Profile
from gateway.errors import UpstreamCircuitOpen, UpstreamTimeout, UpstreamUnavailable
from gateway.metrics import UpstreamMetrics, outcome_of
from gateway.routes import Target, rewrite_location
from shelter_kit.bodies import bounded, check_declared_length
from shelter_kit.context import FORWARDED_URI_HEADER, outbound_headers

log = logging.getLogger(__name__)

KEY_ID_HEADER = "x-key-id"
# inference-header-content-length: Triton's binary tensor extension on /api/v2 (tritonclient).
REQUEST_HEADERS = (
    "content-type",
    "content-length",
    "idempotency-key",
    "last-event-id",
    "if-none-match",
    "if-modified-since",
    "accept",
    "inference-header-content-length",
)
RESPONSE_HEADERS = (
    "content-type",
    "content-length",
    "content-encoding",
    "location",
    "retry-after",
    "cache-control",
    "etag",
    "last-modified",
    "allow",
    "inference-header-content-length",
    "x-frame-id",  # camera-ingest's frame images: which frame, captured when
    "x-captured-at",
    "content-disposition",  # batch results: the download's file name
)


@dataclass(frozen=True)
class Upstream:
    name: str
    base_url: str


@dataclass
class UpstreamReply:
    upstream: str
    status: int
    headers: list[tuple[str, str]]
    response: httpx.Response

    async def body(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self.response.aiter_raw():
                yield chunk
        except httpx.HTTPError as exc:  # the upstream dropped mid-body: end the stream, say so
            log.warning("upstream body ended early (%s)", type(exc).__name__)

    async def aclose(self) -> None:
        await self.response.aclose()


def request_body(
    headers: Mapping[str, str], body: AsyncIterator[bytes], max_bytes: int
) -> AsyncIterator[bytes] | None:
    """The body to forward (None when the client sent none); a declared oversize is refused
    here, before any upstream is called, a streamed one as soon as it passes the limit."""
    declared = headers.get("content-length")
    check_declared_length(declared, limit=max_bytes)
    if declared in (None, "0") and "transfer-encoding" not in headers:
        return None
    return bounded(body, limit=max_bytes)


def forwarded_headers(
    headers: Mapping[str, str],
    *,
    client_ip: str | None,
    scheme: str,
    public_uri: str,
    key_id: str,
) -> dict[str, str]:
    """What the upstream gets: the allow-listed client headers, the request context, the
    X-Forwarded-* trio (For appended to, Proto kept, Uri = what the client called) and the
    verified caller's key id (X-Key-Id: the classifier records who changed a deployment). A
    client's own X-Key-Id, like every header not allow-listed, is dropped."""
    out = {name: headers[name] for name in REQUEST_HEADERS if name in headers}
    out[KEY_ID_HEADER] = key_id
    out["accept-encoding"] = headers.get("accept-encoding", "identity")
    out.update(outbound_headers())
    forwarded = [v for v in (headers.get("x-forwarded-for"), client_ip) if v]
    if forwarded:
        out["x-forwarded-for"] = ", ".join(forwarded)
    out["x-forwarded-proto"] = headers.get("x-forwarded-proto", scheme)
    out[FORWARDED_URI_HEADER] = public_uri
    return out


IDEMPOTENT = frozenset({"GET", "HEAD"})
RETRIED_ERRORS = (httpx.NetworkError, httpx.RemoteProtocolError)  # no answer, not a timeout


def idempotent(method: str, headers: Mapping[str, str]) -> bool:
    """GET, HEAD, and a PUT the upstream dedupes by its Idempotency-Key (camera-ingest does)."""
    return method in IDEMPOTENT or (method == "PUT" and "idempotency-key" in headers)


class Proxy:
    def __init__(
        self,
        client: httpx.AsyncClient,
        upstreams: Mapping[str, Upstream],
        breakers: Mapping[str, CircuitBreaker],
        *,
        connect_timeout_s: float,
        retries: int,
        backoff_s: float,
        metrics: UpstreamMetrics,
    ) -> None:
        self._client = client
        self._upstreams = upstreams
        self._breakers = breakers
        self._connect = connect_timeout_s
        self._retries = retries
        self._backoff = backoff_s
        self._metrics = metrics

    def _timeout(self, profile: Profile) -> httpx.Timeout:
        if profile.stream:  # SSE: wait for events forever, but not for the connection
            return httpx.Timeout(profile.timeout_s, connect=self._connect, read=None)
        return httpx.Timeout(profile.timeout_s, connect=self._connect)

    async def open(
        self,
        *,
        target: Target,
        profile: Profile,
        method: str,
        query: str,
        headers: Mapping[str, str],
        body: AsyncIterator[bytes] | None,
    ) -> UpstreamReply:
        """Send the request and return once the upstream's status and headers have arrived."""
        upstream = self._upstreams[target.rule.upstream]
        retries = self._retries if idempotent(method, headers) else 0
        content: AsyncIterator[bytes] | bytes | None = body
        if retries and body is not None:  # kept (within the route's limit) so it can be resent
            content = b"".join([chunk async for chunk in body])
        for attempt in range(retries + 1):
            try:
                return await self._attempt(upstream, target, profile, method, query, headers,
                                           content)  # fmt: skip
            except UpstreamUnavailable as exc:
                if attempt == retries or not isinstance(exc.__cause__, RETRIED_ERRORS):
                    raise
            await asyncio.sleep(self._backoff * (attempt + 1))
        raise AssertionError("unreachable")  # the loop returns or raises

    async def _attempt(
        self,
        upstream: Upstream,
        target: Target,
        profile: Profile,
        method: str,
        query: str,
        headers: Mapping[str, str],
        body: AsyncIterator[bytes] | bytes | None,
    ) -> UpstreamReply:
        breaker = self._breakers[upstream.name]
        try:
            breaker.admit()
        except UpstreamCircuitOpen:
            self._metrics.requests.labels(upstream.name, "circuit_open").inc()
            raise
        request = self._client.build_request(
            method,
            upstream.base_url + target.path + (f"?{query}" if query else ""),
            # bytes, not str: Starlette decoded them as latin-1, and httpx would encode a str as
            # ASCII (UnicodeEncodeError on any other byte); this way they pass through unchanged
            headers=[(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
            content=body,
            timeout=self._timeout(profile),
        )
        started = time.perf_counter()
        try:
            response = await self._client.send(request, stream=True)
        except httpx.TimeoutException as exc:
            self._failed(breaker, "timeout", started)
            raise UpstreamTimeout(upstream.name, f"timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            self._failed(breaker, "unreachable", started)
            raise UpstreamUnavailable(upstream.name, f"unreachable ({type(exc).__name__})") from exc
        except BaseException:
            breaker.abandon()
            raise
        breaker.success()
        self._metrics.observe(upstream.name, outcome_of(response.status_code),
                              time.perf_counter() - started)  # fmt: skip
        return UpstreamReply(
            upstream=upstream.name,
            status=response.status_code,
            headers=_reply_headers(upstream.name, response.headers),
            response=response,
        )

    def _failed(self, breaker: CircuitBreaker, outcome: str, started: float) -> None:
        breaker.failure()
        self._metrics.observe(breaker.upstream, outcome, time.perf_counter() - started)


def _reply_headers(upstream: str, headers: httpx.Headers) -> list[tuple[str, str]]:
    """The kept headers, values decoded as latin-1 so Starlette re-encodes the very same bytes."""
    out: list[tuple[str, str]] = []
    for raw_name, raw_value in headers.raw:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        if name in RESPONSE_HEADERS:
            out.append((name, rewrite_location(upstream, value) if name == "location" else value))
    return out
