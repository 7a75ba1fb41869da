"""Forwarding to the upstreams over one shared `httpx.AsyncClient`, streaming both ways.

The request body streams through with a size limit; the response streams back chunk by chunk, so
server-sent events reach the client as they are written. Transport errors become UpstreamUnavailable
(502) and timeouts UpstreamTimeout (504), each naming the upstream.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import httpx

from gateway.errors import BodyTooLarge, UpstreamTimeout, UpstreamUnavailable
from gateway.routes import Target, rewrite_location

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


async def limited(body: AsyncIterator[bytes], max_bytes: int) -> AsyncIterator[bytes]:
    seen = 0
    async for chunk in body:
        seen += len(chunk)
        if seen > max_bytes:
            raise BodyTooLarge(f"request body is over {max_bytes} bytes")
        yield chunk


def request_body(
    headers: Mapping[str, str], body: AsyncIterator[bytes], max_bytes: int
) -> AsyncIterator[bytes] | None:
    """The body to forward (None when the client sent none); rejects a declared oversize early."""
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise BodyTooLarge(f"request body of {declared} bytes is over {max_bytes} bytes")
    if declared in (None, "0") and "transfer-encoding" not in headers:
        return None
    return limited(body, max_bytes)


def outbound_headers(
    headers: Mapping[str, str], *, request_id: str, client_ip: str | None, scheme: str
) -> dict[str, str]:
    out = {name: headers[name] for name in REQUEST_HEADERS if name in headers}
    out["accept-encoding"] = headers.get("accept-encoding", "identity")
    out["x-request-id"] = request_id
    forwarded = [v for v in (headers.get("x-forwarded-for"), client_ip) if v]
    if forwarded:
        out["x-forwarded-for"] = ", ".join(forwarded)
    out["x-forwarded-proto"] = headers.get("x-forwarded-proto", scheme)
    return out


class Proxy:
    def __init__(
        self, client: httpx.AsyncClient, upstreams: Mapping[str, Upstream], connect_timeout_s: float
    ) -> None:
        self._client = client
        self._upstreams = upstreams
        self._connect = connect_timeout_s

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
        try:
            response = await self._client.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout(upstream.name, f"timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise UpstreamUnavailable(upstream.name, f"unreachable ({type(exc).__name__})") from exc
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


async def probe_ready(
    client: httpx.AsyncClient,
    upstreams: Mapping[str, Upstream],
    *,
    timeout_s: float,
    request_id: str,
) -> dict[str, str]:
    """Each upstream's /readyz, concurrently: 'ready', 'status NNN' or 'unreachable (...)'."""

    async def one(upstream: Upstream) -> str:
        try:
            url = f"{upstream.base_url}/readyz"
            headers = {"x-request-id": request_id}
            response = await client.get(url, timeout=timeout_s, headers=headers)
        except httpx.HTTPError as exc:
            return f"unreachable ({type(exc).__name__})"
        return "ready" if response.status_code == 200 else f"status {response.status_code}"

    names = list(upstreams)
    results = await asyncio.gather(*(one(upstreams[n]) for n in names))
    return dict(zip(names, results, strict=True))
