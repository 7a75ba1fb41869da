"""Fetching one image URL of a job: to checked addresses only, redirects checked hop by hop.

Why the connection is pinned: httpx resolves a host itself when it connects, so checking the name
first and letting httpx connect would check one DNS answer and use another (DNS rebinding). So
every hop resolves the host once (`egress.Guard.resolve`, every address checked), then sends the
request to one of exactly those addresses: the URL's host replaced by the IP, the original `Host`
header sent, and for https the original name as the TLS server name (httpx's `sni_hostname`
extension), so certificates are verified against the name. The next address is tried only when a
connection is refused.

The client is the fetcher's own (never the one that calls the classifier: those are internal
addresses by design): no keep-alive, so every fetch resolves afresh; no proxies from the
environment; redirects are never followed by httpx but here, at most `max_redirects`, each
Location checked as a new URL, so a public URL cannot redirect into the network.

Failures: `ItemFailed` when retrying cannot help (`egress-refused`, `host-unresolved`,
`http-404`, `too-large`, `not-an-image`, `too-many-redirects`, `bad-url`); timeouts, refused
connections, 429 and 5xx are retried `attempts` times with backoff, then `fetch-failed`. Details
name the host, never the URL's path, query or credentials.
"""

from __future__ import annotations

import asyncio
import random

import httpx

from batch.egress import Guard, IPAddress, Refused, Unresolved
from batch.errors import ItemFailed, Transient
from batch.images import SNIFF_BYTES, check_image

REDIRECTS = {301, 302, 303, 307, 308}


def make_fetch_client(*, timeout_s: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_s),
        limits=httpx.Limits(max_connections=64, max_keepalive_connections=0),
        trust_env=False,
        follow_redirects=False,
    )


class Fetcher:
    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        guard: Guard,
        max_bytes: int,
        max_redirects: int,
        attempts: int,
        retry_base_s: float,
    ) -> None:
        self.client = client
        self.guard = guard
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.attempts = attempts
        self.retry_base_s = retry_base_s

    async def fetch(self, url: str) -> bytes:
        """The image at `url`, or ItemFailed saying why not."""
        for attempt in range(1, self.attempts + 1):
            try:
                return await self._follow(url)
            except Transient as exc:
                if attempt == self.attempts:
                    raise ItemFailed("fetch-failed", f"{exc} ({attempt} attempts)") from None
                await asyncio.sleep(random.uniform(0, self.retry_base_s * 2**attempt))
        raise AssertionError("unreachable")

    async def _follow(self, url: str) -> bytes:
        try:
            target = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise ItemFailed("bad-url", str(exc)) from None
        for _ in range(self.max_redirects + 1):
            try:
                addresses = await self.guard.resolve(target.scheme, target.host, target.port)
            except Refused as exc:
                raise ItemFailed("egress-refused", str(exc)) from None
            except Unresolved as exc:
                raise ItemFailed("host-unresolved", str(exc)) from None
            answer = await self._first_answer(target, addresses)
            if isinstance(answer, bytes):
                return answer
            target = answer
        raise ItemFailed("too-many-redirects", f"more than {self.max_redirects} redirects")

    async def _first_answer(
        self, target: httpx.URL, addresses: list[IPAddress]
    ) -> bytes | httpx.URL:
        for ip in addresses[:-1]:
            try:
                return await self._get(target, ip)
            except Transient as exc:
                if not isinstance(exc.__cause__, httpx.ConnectError):
                    raise
        return await self._get(target, addresses[-1])

    async def _get(self, target: httpx.URL, ip: IPAddress) -> bytes | httpx.URL:
        """The body, or the URL a redirect points to."""
        pinned = target.copy_with(host=str(ip))
        headers = {"Host": target.netloc.decode("ascii")}
        named = target.scheme == "https" and target.host != str(ip)
        extensions = {"sni_hostname": target.host} if named else None
        try:
            async with self.client.stream(
                "GET", pinned, headers=headers, extensions=extensions
            ) as response:
                return await self._answer(target, response)
        except httpx.HTTPError as exc:
            raise Transient(f"{target.host}: {type(exc).__name__}") from exc

    async def _answer(self, target: httpx.URL, response: httpx.Response) -> bytes | httpx.URL:
        status = response.status_code
        if status in REDIRECTS and "location" in response.headers:
            return target.join(response.headers["location"])
        if status == 429 or status >= 500:
            raise Transient(f"{target.host} answered HTTP {status}")
        if status != 200:
            raise ItemFailed(f"http-{status}", f"{target.host} answered HTTP {status}")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise ItemFailed("too-large", f"declares {declared} bytes, over {self.max_bytes}")
        data = bytearray()
        async for chunk in response.aiter_bytes():
            data += chunk
            if len(data) > self.max_bytes:
                raise ItemFailed("too-large", f"over {self.max_bytes} bytes")
        check_image(bytes(data[:SNIFF_BYTES]))
        return bytes(data)
