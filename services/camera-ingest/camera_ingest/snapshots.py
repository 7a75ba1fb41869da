"""Fetching one camera snapshot: to a checked address only, no redirects, credentials apart.

Why the connection is pinned: httpx resolves a host itself when it connects, so checking the name
first and then letting httpx connect would check one DNS answer and use another (a name with a
zero TTL can answer a public address to the check and 127.0.0.1 to the connect: DNS rebinding).
So a fetch resolves the host once (`AddressGuard.resolve`: the loop's getaddrinfo, every address
checked), then sends the request to one of exactly those addresses: the URL's host is replaced by
the checked IP, the original `Host` header is sent, and for https the original name is the TLS
server name (httpx's `sni_hostname` extension), so SNI and certificate verification are against
the camera's name as without pinning. The addresses are tried in order, the next one only when the
connection fails (`localhost` answers ::1 first; a camera may listen on IPv4 only).
Considered instead: an httpcore network backend that resolves and checks inside `connect_tcp`.
It checks at the very connect too, but installing it needs httpx's private `_pool`; this uses
public API only.

The client is the poller's own, never the one that calls the classifier and the aggregator (those
are internal addresses by design): keep-alive is off, so every poll resolves and checks afresh
and a pooled connection (keyed by IP) never carries another name's TLS session; `trust_env` is
off, so no proxy from the environment resolves the name again on its side; redirects are not
followed at all: a 3xx is a failed poll and its Location is never fetched (simplest, and a camera
answers where it is registered).

Credentials travel in `auth=` (HTTP basic, sent with the request), never in the URL, so neither
httpx's log lines nor its exception texts can carry them; an error names the host and the
reason, never the URL's path, query or credentials, and is scrubbed of the password regardless.
"""

from __future__ import annotations

import asyncio
import ssl

import httpx

from camera_ingest.egress import DEFAULT_PORTS, AddressGuard, IPAddress
from camera_ingest.errors import EgressRefused, HostUnresolved, SnapshotError, SnapshotRefused
from camera_ingest.frames import Frame, read_frame
from camera_ingest.schemas import BasicAuth


def make_snapshot_client(
    *, connect_timeout_s: float, timeout_s: float, verify: ssl.SSLContext | bool = True
) -> httpx.AsyncClient:
    """The poller's client: no keep-alive, no proxies from the environment, no redirects.
    `verify` is the system's trust store unless a test passes its own CA."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_s, connect=min(connect_timeout_s, timeout_s)),
        limits=httpx.Limits(max_connections=64, max_keepalive_connections=0),
        trust_env=False,
        follow_redirects=False,
        verify=verify,
    )


def _status_error(status: int) -> SnapshotError:
    if 300 <= status < 400:
        return SnapshotError(f"snapshot answered HTTP {status}, a redirect (not followed)")
    if status in (401, 403):
        return SnapshotError(f"snapshot answered HTTP {status} (credentials missing or refused)")
    return SnapshotError(f"snapshot answered HTTP {status}")


class SnapshotFetcher:
    def __init__(
        self, *, client: httpx.AsyncClient, guard: AddressGuard, timeout_s: float, max_bytes: int
    ) -> None:
        self.client = client
        self.guard = guard
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes

    async def fetch(self, url: str, auth: BasicAuth | None = None) -> Frame:
        """One snapshot, checked (`read_frame`); SnapshotError (SnapshotRefused for a refused
        address) or an InvalidFrame otherwise. The whole fetch, DNS included, is bounded."""
        target = httpx.URL(url)
        secret = auth.password.get_secret_value() if auth else ""
        try:
            async with asyncio.timeout(self.timeout_s):
                port = target.port or DEFAULT_PORTS.get(target.scheme, 80)
                addresses = await self.guard.resolve(target.host, port)
                return await self._first_answer(target, addresses, auth)
        except EgressRefused as exc:
            raise SnapshotRefused(f"snapshot refused: {exc}") from None
        except HostUnresolved as exc:
            raise SnapshotError(f"snapshot host unresolved: {exc}") from None
        except TimeoutError:
            raise SnapshotError(f"snapshot timed out after {self.timeout_s:g}s") from None
        except httpx.HTTPError as exc:
            detail = f"snapshot fetch from {target.host} failed: {type(exc).__name__}: {exc}"
            raise SnapshotError(detail.replace(secret, "***") if secret else detail) from None

    async def _first_answer(
        self, target: httpx.URL, addresses: list[IPAddress], auth: BasicAuth | None
    ) -> Frame:
        for ip in addresses[:-1]:
            try:
                return await self._get(target, ip, auth)
            except httpx.ConnectError:
                continue  # refused or unreachable: the next checked address
        return await self._get(target, addresses[-1], auth)

    async def _get(self, target: httpx.URL, ip: IPAddress, auth: BasicAuth | None) -> Frame:
        """GET `target` from `ip`. The camera's Content-Type is not trusted (cameras mislabel):
        the magic bytes decide, as for an upload declared generic."""
        pinned = target.copy_with(host=str(ip))
        headers = {"Host": target.netloc.decode("ascii")}
        named = target.scheme == "https" and target.host != str(ip)
        extensions = {"sni_hostname": target.host} if named else None
        basic = httpx.BasicAuth(auth.username, auth.password.get_secret_value()) if auth else None
        async with self.client.stream(
            "GET", pinned, headers=headers, extensions=extensions, auth=basic
        ) as response:
            if response.status_code != 200:
                raise _status_error(response.status_code)
            return await read_frame(
                response.aiter_bytes(),
                content_type=None,
                content_length=response.headers.get("content-length"),
                max_bytes=self.max_bytes,
            )
