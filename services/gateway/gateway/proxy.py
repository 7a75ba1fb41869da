"""Forwarding to the upstreams over one shared `httpx.AsyncClient`, streaming both ways.

The request body streams through shelter-kit's bounded reader; the response streams back chunk by
chunk, so server-sent events reach the client as they are written. Transport errors become
UpstreamUnavailable (502) and timeouts UpstreamTimeout (504), each naming the upstream.

Each forwarded request carries the request context (X-Request-ID, a valid W3C `traceparent`) and
`X-Forwarded-Uri`, the public path and query the client called, so an upstream's problem
`instance` names the path the client knows (`/api/v1/spaces/x`, not `/v1/spaces/x`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import httpx

from gateway.errors import UpstreamTimeout, UpstreamUnavailable
from gateway.metrics import UpstreamMetrics, outcome_of
from gateway.routes import Target, rewrite_location
from shelter_kit.bodies import bounded, check_declared_length
from shelter_kit.context import FORWARDED_URI_HEADER, outbound_headers

log = logging.getLogger(__name__)

# inference-header-content-length: Triton's binary tensor extension on /api/v2 (tritonclient).
REQUEST_HEADERS = (
    "content-type",
    "content-length",
    "idempotency-key",
    "last-event-id",
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
)


@dataclass(frozen=True)
class Upstream:
    name: str
    base_url: str
    timeout_s: float


@dataclass
class UpstreamReply:
    status: int
    headers: list[tuple[str, str]]
    response: httpx.Response

    async def body(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self.response.aiter_raw():
                yield chunk
        except httpx.HTTPError as exc:  # the upstream dropped mid-body: end the stream, say so
            log.warning("upstream body ended early: %r", exc)

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
    headers: Mapping[str, str], *, client_ip: str | None, scheme: str, public_uri: str
) -> dict[str, str]:
    """What the upstream gets: the allow-listed client headers, the request context, and the
    X-Forwarded-* trio (For appended to, Proto kept, Uri = what the client called)."""
    out = {name: headers[name] for name in REQUEST_HEADERS if name in headers}
    out["accept-encoding"] = headers.get("accept-encoding", "identity")
    out.update(outbound_headers())
    forwarded = [v for v in (headers.get("x-forwarded-for"), client_ip) if v]
    if forwarded:
        out["x-forwarded-for"] = ", ".join(forwarded)
    out["x-forwarded-proto"] = headers.get("x-forwarded-proto", scheme)
    out[FORWARDED_URI_HEADER] = public_uri
    return out


class Proxy:
    def __init__(
        self,
        client: httpx.AsyncClient,
        upstreams: Mapping[str, Upstream],
        *,
        connect_timeout_s: float,
        metrics: UpstreamMetrics,
    ) -> None:
        self._client = client
        self._upstreams = upstreams
        self._connect = connect_timeout_s
        self._metrics = metrics

    def _timeout(self, upstream: Upstream, streaming: bool) -> httpx.Timeout:
        if streaming:  # SSE: wait for events forever, but not for the connection
            return httpx.Timeout(upstream.timeout_s, connect=self._connect, read=None)
        return httpx.Timeout(upstream.timeout_s, connect=self._connect)

    async def open(
        self,
        *,
        target: Target,
        method: str,
        query: str,
        headers: Mapping[str, str],
        body: AsyncIterator[bytes] | None,
    ) -> UpstreamReply:
        """Send the request and return once the upstream's status and headers have arrived."""
        upstream = self._upstreams[target.rule.upstream]
        url = upstream.base_url + target.path + (f"?{query}" if query else "")
        request = self._client.build_request(
            method,
            url,
            # bytes, not str: Starlette decoded them as latin-1, and httpx would encode a str as
            # ASCII (UnicodeEncodeError on any other byte); this way they pass through unchanged
            headers=[(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
            content=body,
            timeout=self._timeout(upstream, target.rule.streaming),
        )
        started = time.perf_counter()
        try:
            response = await self._client.send(request, stream=True)
        except httpx.TimeoutException as exc:
            self._metrics.observe(upstream.name, "timeout", time.perf_counter() - started)
            raise UpstreamTimeout(upstream.name, f"timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            self._metrics.observe(upstream.name, "unreachable", time.perf_counter() - started)
            raise UpstreamUnavailable(upstream.name, f"unreachable ({type(exc).__name__})") from exc
        outcome = outcome_of(response.status_code)
        self._metrics.observe(upstream.name, outcome, time.perf_counter() - started)
        return UpstreamReply(
            status=response.status_code,
            headers=_reply_headers(upstream.name, response.headers),
            response=response,
        )


def _reply_headers(upstream: str, headers: httpx.Headers) -> list[tuple[str, str]]:
    """The kept headers, values decoded as latin-1 so Starlette re-encodes the very same bytes."""
    out: list[tuple[str, str]] = []
    for raw_name, raw_value in headers.raw:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        if name in RESPONSE_HEADERS:
            out.append((name, rewrite_location(upstream, value) if name == "location" else value))
    return out
